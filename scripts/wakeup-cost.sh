#!/usr/bin/env bash
# What this machine charges for the two things a server does between threads on every request: a
# system call, and waking a sleeping thread. Two threads hand a token back and forth through a
# futex, once on two CPUs and once both on CPU 0. On the project's virtual machines a wake-up
# across CPUs costs an order of magnitude more than on one CPU (docs/PERFORMANCE.md).
#   scripts/wakeup-cost.sh        (needs clang, which comes with Swift's toolchain, and taskset)
set -euo pipefail
work=$(mktemp -d /tmp/acgs-wakeup-XXXX)
trap 'rm -rf "$work"' EXIT
cat > "$work/wakeup.c" <<'C'
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { ROUND_TRIPS = 20000, SYSCALLS = 200000 };
static atomic_int turn;

static double nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}
static void await_change(int from) {
    while (atomic_load(&turn) == from) syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, from, NULL, NULL, 0);
}
static void hand_over(int to) {
    atomic_store(&turn, to);
    syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
static void *other(void *unused) {
    for (int i = 0; i < ROUND_TRIPS; i++) { await_change(0); hand_over(0); }
    return unused;
}
int main(void) {
    double start = nanoseconds();
    for (int i = 0; i < SYSCALLS; i++) syscall(SYS_getppid);
    double syscall_ns = (nanoseconds() - start) / SYSCALLS;
    pthread_t thread;
    pthread_create(&thread, NULL, other, NULL);
    start = nanoseconds();
    for (int i = 0; i < ROUND_TRIPS; i++) { hand_over(1); await_change(1); }
    double round_trip_us = (nanoseconds() - start) / ROUND_TRIPS / 1000;
    pthread_join(thread, NULL);
    printf("a system call: %.0f ns; a wake-up there and back: %.1f µs\n", syscall_ns, round_trip_us);
    return 0;
}
C
clang -O2 -pthread "$work/wakeup.c" -o "$work/wakeup"
echo -n "threads free to run on any CPU: "; "$work/wakeup"
echo -n "both threads on CPU 0:          "; taskset -c 0 "$work/wakeup"
