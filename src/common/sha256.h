/*
 * sha256.h - SHA-256 digests as lowercase hex, over OpenSSL's libcrypto (EVP).
 *
 * The one place the host code talks to libcrypto for hashing. The digest
 * functions return 0 or -errno and write hex[] only on success.
 */
#ifndef AUTON_COMMON_SHA256_H
#define AUTON_COMMON_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* 64 hex digits and the NUL. */
#define AUT_SHA256_HEX_SIZE 65

/* A 32-byte digest as 64 lowercase hex digits and a NUL. */
void aut_sha256_hex(const unsigned char md[32], char hex[AUT_SHA256_HEX_SIZE]);

/* Digest of buf[0..n). Returns 0, or -ENOMEM / -EIO if libcrypto fails. */
int aut_sha256_buf(const void *buf, size_t n, char hex[AUT_SHA256_HEX_SIZE]);

/* Digest of everything readable from fd `in`, read in 1 MiB chunks, each
 * also written to `out` when out >= 0 (hash while copying); *size (if not
 * NULL) gets the byte count. Returns 0, -errno from read or write, -ENOMEM,
 * or -EIO if libcrypto fails; *werr is the write's -errno when the write
 * failed (out's fault, not in's), else 0. */
int aut_sha256_fd(int in, int out, char hex[AUT_SHA256_HEX_SIZE], uint64_t *size, int *werr);

/* Digest of the file at path, read in chunks. Returns 0, -errno from
 * open/read, or -EIO if libcrypto fails. */
int aut_sha256_file(const char *path, char hex[AUT_SHA256_HEX_SIZE]);

/* HMAC-SHA256 of buf[0..n) with key, as hex (webhook signatures). Returns 0
 * or -EIO. */
int aut_hmac_sha256_hex(const void *key, size_t key_len, const void *buf, size_t n,
                        char hex[AUT_SHA256_HEX_SIZE]);

#endif
