/* What any user who can open the pin can do to a task of another user (README "Threat model"): give it an
 * element that points at the caller's own page, so BPF reads forged values as that task's. Run as a real other
 * user by open-errors.test.ts. Usage: forge PIN TID; prints "forged" and exits 0, or the failing call. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif
#include <fcntl.h>

static long sys_bpf(int cmd, union bpf_attr *attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

int main(int argc, char **argv) {
	if (argc != 3) return 2;
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.pathname = (uint64_t)(uintptr_t)argv[1];
	int map = (int)sys_bpf(BPF_OBJ_GET, &attr);
	if (map < 0) { printf("BPF_OBJ_GET %s\n", strerror(errno)); return 1; }
	int pidfd = (int)syscall(__NR_pidfd_open, atoi(argv[2]), PIDFD_THREAD);
	if (pidfd < 0) { printf("pidfd_open %s\n", strerror(errno)); return 1; }
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) return 1;
	uint64_t value[3] = { (uint64_t)(uintptr_t)page, (uint64_t)(uintptr_t)page, 8 };
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = (uint32_t)map;
	attr.key = (uint64_t)(uintptr_t)&pidfd;
	attr.value = (uint64_t)(uintptr_t)value;
	attr.flags = BPF_NOEXIST;
	if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) { printf("BPF_MAP_UPDATE_ELEM %s\n", strerror(errno)); return 1; }
	printf("forged\n");
	return 0;
}
