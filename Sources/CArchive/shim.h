#ifndef CArchive_SHIM_H
#define CArchive_SHIM_H
#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

/* File-type constants are macros Swift cannot import. */
static const unsigned int FB_AE_IFMT = AE_IFMT;
static const unsigned int FB_AE_IFREG = AE_IFREG;
static const unsigned int FB_AE_IFDIR = AE_IFDIR;
static const unsigned int FB_AE_IFLNK = AE_IFLNK;

#endif
