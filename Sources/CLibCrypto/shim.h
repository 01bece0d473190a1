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

/* Initialises libcrypto without its atexit cleanup (OPENSSL_INIT_NO_ATEXIT): exit() from one
   thread must not free the digest tables another thread is hashing with. 1 on success. */
static inline int fb_openssl_init_no_atexit(void) { return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL); }

#endif
