#ifndef CZstd_SHIM_H
#define CZstd_SHIM_H
/* libzstd's stable API (zstd.h from libzstd-dev, v1.4+): the streaming
 * compressor ZSTD_compressStream2 with its ZSTD_c_* parameters. */
#include <zstd.h>
#endif
