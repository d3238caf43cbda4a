/*
 * fuzz_scrub_page.c
 *		libFuzzer target for ScrubPageFreeSpace (src/domain/scrubpage.c), the
 *		page part of firstsight.scrub_free_space.
 *
 * Input: one byte of mode, then page bytes (zero-padded to BLCKSZ).  Mode
 * bit 0: scrub as a metapage; bit 1: make the header plausible (pd_lower,
 * pd_upper, pd_special put in order from the input) so that most inputs
 * reach the line pointer walk rather than stopping at the sanity check.
 * Checked on every input, under ASan and UBSan: nothing outside the page is
 * touched; the header, the line pointer array, every byte a line pointer
 * with storage covers and the special space are unchanged; every byte that
 * changed became zero, and the count returned is the number of bytes that
 * changed; a second scrub changes nothing.
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>

#include "domain/scrub.h"

/* the C library's, not libpgport's (nothing else of PostgreSQL is linked) */
#undef fprintf

#define CHECK(cond) \
	do { if (!(cond)) { fprintf(stderr, "invariant broken: %s\n", #cond); abort(); } } while (0)

/* put pd_lower <= pd_upper <= pd_special <= BLCKSZ in order, from the input's values */
static void
Plausible(PageHeader ph)
{
	unsigned	special = BLCKSZ - MAXALIGN(ph->pd_special % 64);
	unsigned	lower = SizeOfPageHeaderData + sizeof(ItemIdData) * (ph->pd_lower % 200);
	unsigned	upper;

	if (lower > special)
		lower = special;
	upper = lower + ph->pd_upper % (special - lower + 1);
	ph->pd_lower = lower;
	ph->pd_upper = upper;
	ph->pd_special = special;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union
	{
		char		data[BLCKSZ];
		double		align;
	}			page, before, again;
	PageHeader	ph = (PageHeader) page.data;
	bool		meta;
	bool		covered[BLCKSZ];
	int			n;
	int			changed = 0;
	unsigned	i;

	if (size < 1)
		return 0;
	meta = (data[0] & 1) != 0;
	memset(page.data, 0, BLCKSZ);
	memcpy(page.data, data + 1, Min(size - 1, (size_t) BLCKSZ));
	if (data[0] & 2)
		Plausible(ph);
	memcpy(before.data, page.data, BLCKSZ);

	n = ScrubPageFreeSpace(page.data, meta);

	/* what must not change: header, line pointers, tuples with storage, special space */
	memset(covered, false, sizeof(covered));
	if (!PageIsNew(before.data) && ScrubPageSane(before.data))
	{
		PageHeader	bh = (PageHeader) before.data;
		OffsetNumber maxoff = PageGetMaxOffsetNumber(before.data);

		memset(covered, true, bh->pd_lower);
		memset(covered + bh->pd_special, true, BLCKSZ - bh->pd_special);
		if (meta)
			memset(covered + bh->pd_upper, true, bh->pd_special - bh->pd_upper);
		/* a metapage's contents below pd_lower are no line pointers */
		for (OffsetNumber off = FirstOffsetNumber; !meta && off <= maxoff; off++)
		{
			ItemId		iid = PageGetItemId(before.data, off);

			if (ItemIdHasStorage(iid) && ItemIdGetOffset(iid) + ItemIdGetLength(iid) <= BLCKSZ)
				memset(covered + ItemIdGetOffset(iid), true, ItemIdGetLength(iid));
		}
	}
	else
		memset(covered, true, sizeof(covered));
	for (i = 0; i < BLCKSZ; i++)
	{
		if (page.data[i] == before.data[i])
			continue;
		changed++;
		CHECK(page.data[i] == 0);
		CHECK(!covered[i]);
	}
	CHECK(n == changed);

	/* idempotent */
	memcpy(again.data, page.data, BLCKSZ);
	CHECK(ScrubPageFreeSpace(again.data, meta) == 0);
	CHECK(memcmp(again.data, page.data, BLCKSZ) == 0);
	return 0;
}
