/*
 * sha256.c - SHA-256 of a buffer, a stream or a file via libcrypto's EVP interface
 * (see sha256.h). libcrypto's failures become -ENOMEM / -EIO here.
 */
#include "sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fsutil.h"

#define CHUNK (1u << 20)

void aut_sha256_hex(const unsigned char md[32], char hex[AUT_SHA256_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

static int finish(EVP_MD_CTX *ctx, char hex[AUT_SHA256_HEX_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx, md, &len) != 1 || len != 32)
        return -EIO;
    aut_sha256_hex(md, hex);
    return 0;
}

int aut_sha256_buf(const void *buf, size_t n, char hex[AUT_SHA256_HEX_SIZE])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -EIO;
    if (!ctx)
        return -ENOMEM;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(ctx, buf, n) == 1)
        rc = finish(ctx, hex);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* Feeds everything readable from in to ctx, copying it to out when
 * out >= 0; *size counts the bytes, *werr tells a write failure. */
static int digest_fd(EVP_MD_CTX *ctx, int in, int out, unsigned char *chunk, uint64_t *size,
                     int *werr)
{
    for (;;) {
        ssize_t got = read(in, chunk, CHUNK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            return 0;
        if (EVP_DigestUpdate(ctx, chunk, (size_t)got) != 1)
            return -EIO;
        if (out >= 0 && (*werr = aut_write_all(out, chunk, (size_t)got)) < 0)
            return *werr;
        *size += (uint64_t)got;
    }
}

int aut_sha256_fd(int in, int out, char hex[AUT_SHA256_HEX_SIZE], uint64_t *size, int *werr)
{
    uint64_t n = 0;
    unsigned char *chunk = malloc(CHUNK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int rc = -ENOMEM;
    *werr = 0;
    if (!chunk || !ctx)
        goto fail;
    rc = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
    if (!rc)
        rc = digest_fd(ctx, in, out, chunk, &n, werr);
    if (!rc)
        rc = finish(ctx, hex);
    if (!rc && size)
        *size = n;
fail:
    EVP_MD_CTX_free(ctx);
    free(chunk);
    return rc;
}

int aut_sha256_file(const char *path, char hex[AUT_SHA256_HEX_SIZE])
{
    int werr, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = aut_sha256_fd(fd, -1, hex, NULL, &werr);
    close(fd);
    return rc;
}

int aut_hmac_sha256_hex(const void *key, size_t key_len, const void *buf, size_t n,
                        char hex[AUT_SHA256_HEX_SIZE])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)key_len, buf, n, md, &len) || len != 32)
        return -EIO;
    aut_sha256_hex(md, hex);
    return 0;
}
