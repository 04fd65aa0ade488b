/*
 * uabi.h - the ring-3 service ABI, shared by the kernel and the user image.
 *
 * Ring-3 code asks the kernel for a service with `int3` (vector 3, a DPL-3
 * gate; `syscall` and `int $0x80` do not work under the nested KVM these
 * machines run):
 *
 *   rax = service number, rdi/rsi/rdx = arguments  ->  rax = result
 *
 * Every other register is preserved. Negative results are -errno
 * (kernel/errno.h). Services:
 *
 *   USVC_EXIT  (value)     ends the current user call; user_call() returns
 *                          0 with value as the result. Never returns.
 *                          A user function that simply returns gets here
 *                          through user_exit_trampoline (user/entry.S).
 *   USVC_WRITE (buf, len)  writes up to USVC_WRITE_MAX bytes of buf to the
 *                          console; buf must be user-readable memory.
 *                          Returns the number written, or -EFAULT.
 *   USVC_TIME  ()          nanoseconds since boot (the kernel's clock).
 *
 * Unknown numbers return -ENOSYS.
 */
#ifndef AUTON_KERNEL_UABI_H
#define AUTON_KERNEL_UABI_H

#define USVC_EXIT 0
#define USVC_WRITE 1
#define USVC_TIME 2

#define USVC_WRITE_MAX 4096

#endif
