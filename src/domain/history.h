/*
 * history.h
 *		Settings of the attribution history (change_log).
 */
#ifndef FS_DOMAIN_HISTORY_H
#define FS_DOMAIN_HISTORY_H

extern void FsHistoryInit(void);

#endif
