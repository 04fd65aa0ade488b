/*
 * usvc.h - ring-3 side of the service ABI (kernel/uabi.h) and the marker
 * for functions the kernel may call.
 *
 * For user-image code only: these trap into the kernel with int3.
 */
#ifndef AUTON_USER_USVC_H
#define AUTON_USER_USVC_H

#include <stddef.h>
#include <stdint.h>

#include "kernel/uabi.h"

/* A user-image function the kernel may name in user_call(). Everything
 * else in the image is hidden (build/user.o localises it). */
#define UENTRY __attribute__((visibility("default")))

static inline int64_t usvc_call2(uint64_t nr, uint64_t a, uint64_t b)
{
    uint64_t ret = nr;
    __asm__ volatile("int3" : "+a"(ret) : "D"(a), "S"(b) : "memory");
    return (int64_t)ret;
}

/* Writes to the console; returns bytes written or -EFAULT. */
static inline int64_t usvc_write(const void *buf, size_t len)
{
    return usvc_call2(USVC_WRITE, (uint64_t)buf, len);
}

/* Nanoseconds since boot. */
static inline uint64_t usvc_time_ns(void)
{
    return (uint64_t)usvc_call2(USVC_TIME, 0, 0);
}

/* Ends the current user call with value as its result. */
static inline __attribute__((noreturn)) void usvc_exit(uint64_t value)
{
    usvc_call2(USVC_EXIT, value, 0);
    __builtin_unreachable();
}

#endif
