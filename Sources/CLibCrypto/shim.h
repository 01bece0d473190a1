#ifndef CLibCrypto_SHIM_H
#define CLibCrypto_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/crypto.h>

/* OPENSSL_free is a macro; wrap it so Swift can release OpenSSL-allocated memory. */
static inline void fb_openssl_free(void *pointer) { OPENSSL_free(pointer); }

#endif
