/*
 * errno.h - the kernel's error codes (Linux's numbers), returned negated.
 */
#ifndef AUTON_KERNEL_ERRNO_H
#define AUTON_KERNEL_ERRNO_H

#define EIO 5
#define EFAULT 14
#define EBUSY 16
#define EINVAL 22
#define ENOSYS 38
#define ETIMEDOUT 110

#endif
