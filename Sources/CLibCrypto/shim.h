#ifndef CLibCrypto_SHIM_H
#define CLibCrypto_SHIM_H
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

/* OPENSSL_free is a macro; wrap it so Swift can release OpenSSL-allocated memory. */
static inline void fb_openssl_free(void *pointer) { OPENSSL_free(pointer); }

/* BIO_get_mem_data is a macro; expose the memory BIO's buffer. */
static inline long fb_bio_mem_data(BIO *bio, char **out) { return BIO_get_mem_data(bio, out); }

#endif
