/*
 * ingest.h
 *		The single-row ingestion path's statement notes (src/domain/ingest.c).
 */
#ifndef FS_DOMAIN_INGEST_H
#define FS_DOMAIN_INGEST_H

extern void FsIngestInit(void);

#endif
