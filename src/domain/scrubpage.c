/*
 * scrubpage.c
 *		The page part of scrub_free_space: which bytes of a standard page no
 *		tuple uses, and zeroing them.  No buffer, lock or WAL here (scrub.c
 *		does that), so the fuzz target test/fuzz/fuzz_scrub_page.c runs it on
 *		arbitrary pages.
 */
#include "postgres.h"

#include "domain/scrub.h"

/* whether a page header is sane enough to scrub (a broken page is left alone) */
bool
ScrubPageSane(Page page)
{
	PageHeader	ph = (PageHeader) page;

	return ph->pd_lower >= SizeOfPageHeaderData &&
		ph->pd_lower <= ph->pd_upper &&
		ph->pd_upper <= ph->pd_special &&
		ph->pd_special <= BLCKSZ &&
		ph->pd_special == MAXALIGN(ph->pd_special);
}

/*
 * Mark in used[] the bytes that line pointers with storage cover; false if
 * one points outside the tuple space (then nothing on the page is zeroed).
 */
static bool
ScrubMarkUsed(Page page, bool *used)
{
	PageHeader	ph = (PageHeader) page;
	OffsetNumber maxoff = PageGetMaxOffsetNumber(page);
	OffsetNumber off;

	for (off = FirstOffsetNumber; off <= maxoff; off = OffsetNumberNext(off))
	{
		ItemId		iid = PageGetItemId(page, off);
		unsigned	start = ItemIdGetOffset(iid);
		unsigned	len = ItemIdGetLength(iid);

		/* unused and redirect pointers, and pruned dead ones, have no storage */
		if (!ItemIdHasStorage(iid))
			continue;
		if (start < ph->pd_upper || start + len > ph->pd_special)
			return false;
		memset(used + start, true, len);
	}
	return true;
}

/*
 * Zero the bytes of a page that no line pointer with storage covers, between
 * the line pointer array (pd_lower) and the special space; the number of
 * bytes that were not zero already (0: the page is untouched).  meta: keep
 * everything below pd_lower and zero only the free space, pd_lower to
 * pd_upper (an index metapage, a deleted btree page).  A new page, or one
 * whose header or line pointers do not add up, is left alone.
 */
int
ScrubPageFreeSpace(Page page, bool meta)
{
	PageHeader	ph = (PageHeader) page;
	bool		used[BLCKSZ];
	unsigned	end;
	int			n = 0;
	unsigned	i;

	if (PageIsNew(page) || !ScrubPageSane(page))
		return 0;
	memset(used, false, sizeof(used));
	if (!meta && !ScrubMarkUsed(page, used))
		return 0;
	end = meta ? ph->pd_upper : ph->pd_special;
	for (i = ph->pd_lower; i < end; i++)
		if (!used[i] && page[i] != 0)
			n++;
	if (n == 0)
		return 0;
	for (i = ph->pd_lower; i < end; i++)
		if (!used[i])
			page[i] = 0;
	return n;
}
