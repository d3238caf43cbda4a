/*
 * history.c
 *		Settings of the attribution history (change_log).
 *
 * firstsight.actor names the person a sales app acts for in this request
 * (apps often share one login); change_log keeps it beside session_user and
 * application_name.  firstsight.correction is on while a merge or split
 * moves visits, bindings and deals: their triggers record the changes and
 * leave the re-decision of the deals to the end of the correction.  Only a
 * superuser (the extension's SECURITY DEFINER functions) may set it, so a
 * sales app cannot switch off the re-decision of its own changes.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "domain/history.h"

static char *actor_setting = NULL;
static bool correction_setting = false;

/* define the settings */
void
FsHistoryInit(void)
{
	DefineCustomStringVariable("firstsight.actor",
							   "Who the sales app acts for in this request; kept in the history of changes.",
							   "Apps that share one login set it per request; it is a claim, shown beside session_user.",
							   &actor_setting, "",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("firstsight.correction",
							 "A merge or split is under way (set by firstsight itself).",
							 NULL,
							 &correction_setting, false,
							 PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							 NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(fs_in_correction);
/* is a merge or split under way in this transaction? */
Datum
fs_in_correction(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(correction_setting);
}
