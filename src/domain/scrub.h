/*
 * scrub.h
 *		Zeroing the bytes of a page that no tuple uses (src/domain/scrub.c).
 */
#ifndef FS_SCRUB_H
#define FS_SCRUB_H

#include "storage/bufpage.h"

extern bool ScrubPageSane(Page page);
extern int	ScrubPageFreeSpace(Page page, bool meta);

#endif
