/*
 * selftest_user.h - the ring-3 selftest functions, for the kernel.
 *
 * Declared as code addresses, not functions, so ring 0 cannot call them by
 * mistake: pass them to user_call() (kernel/user.h). Arguments and results
 * are described in user/selftest_user.c.
 */
#ifndef AUTON_USER_SELFTEST_USER_H
#define AUTON_USER_SELFTEST_USER_H

extern const char ut_simd_width[];
extern const char ut_simd_dot[];
extern const char ut_fault_read[];
extern const char ut_fault_ud[];
extern const char ut_fault_de[];
extern const char ut_fault_gp[];
extern const char ut_spin[];
extern const char ut_services[];

#endif
