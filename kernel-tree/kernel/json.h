/*
 * json.h - JSON for the kernel bridge: a tokenizer that parses a line in
 * place (no allocation, no floating point) and a writer into a fixed
 * buffer. Ring 0.
 *
 * Parsing fills an array of tokens in document order; a container's
 * children follow it, and tok.skip is the index just past its subtree, so
 * lookups walk without recursion:
 *
 *     struct jtok t[64];
 *     int n = json_parse(line, len, t, 64);          // < 0: JSON_E*
 *     int op = json_obj_get(line, t, 0, "op");       // index or -1
 *     char buf[32]; json_str(line, &t[op], buf, sizeof buf);
 */
#ifndef AUTON_KERNEL_JSON_H
#define AUTON_KERNEL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum jtype { J_OBJ, J_ARR, J_STR, J_NUM, J_TRUE, J_FALSE, J_NULL };

struct jtok {
    uint8_t type;       /* enum jtype */
    uint32_t start;     /* J_STR: after the opening quote; others: first byte */
    uint32_t end;       /* J_STR: the closing quote; others: one past the last byte */
    uint32_t size;      /* J_OBJ: keys, J_ARR: elements */
    uint32_t skip;      /* index of the token after this one's subtree */
};

#define JSON_MAX_DEPTH 16

#define JSON_ESYNTAX (-1) /* not JSON */
#define JSON_ETOKENS (-2) /* more tokens than the array holds */
#define JSON_EDEPTH (-3)  /* nested deeper than JSON_MAX_DEPTH */

/* Parses one JSON value filling s[0..n) exactly (surrounding white space
 * allowed). Returns the token count, or JSON_E*; *where is the byte offset
 * of a syntax error. */
int json_parse(const char *s, size_t n, struct jtok *t, size_t max, size_t *where);

/* The value of key in object t[obj], or -1. */
int json_obj_get(const char *s, const struct jtok *t, int obj, const char *key);

/* Decodes string token into buf (NUL-terminated). Returns its length, or -1
 * if it does not fit, is not a string, or holds a NUL (\u0000). */
int json_str(const char *s, const struct jtok *t, char *buf, size_t cap);

/* Integer number token (no fraction or exponent) into *out. */
bool json_u64(const char *s, const struct jtok *t, uint64_t *out);

/* Non-negative number with at most 3 decimals as thousandths (0.7 -> 700). */
bool json_milli(const char *s, const struct jtok *t, uint64_t *out);

/* ---- writer ---------------------------------------------------------------------- */

struct jw {
    char *buf;
    size_t cap, len;
    bool overflow;         /* something did not fit: the text is truncated */
    uint8_t depth;
    bool first[JSON_MAX_DEPTH];
};

void jw_init(struct jw *w, char *buf, size_t cap);
void jw_obj(struct jw *w);  /* { */
void jw_arr(struct jw *w);  /* [ */
void jw_end_obj(struct jw *w);
void jw_end_arr(struct jw *w);
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);          /* escaped; invalid UTF-8 -> U+FFFD */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
void jw_raw(struct jw *w, const char *text);       /* a value already in JSON */
/* A key and its value in one call. */
void jw_key_u64(struct jw *w, const char *key, uint64_t v);
void jw_key_str(struct jw *w, const char *key, const char *s);
/* The finished text, NUL-terminated; NULL on overflow. */
const char *jw_done(struct jw *w);

#endif
