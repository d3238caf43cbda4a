/*
 * newperson.h
 *		Pending new persons' faces in shared memory (src/domain/newperson.c).
 */
#ifndef FS_DOMAIN_NEWPERSON_H
#define FS_DOMAIN_NEWPERSON_H

extern void FsNewPersonInit(void);

#endif
