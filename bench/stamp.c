/*
 * A stand-in for ssh for bench/startup.ts: a compiled program (autossh-ts
 * asks only a compiled ssh for its configuration, ssh -G), which notes when
 * it was exec'd (CLOCK_MONOTONIC ns) and how much CPU its parent, the
 * supervisor, had used by then (every thread's, from schedstat).
 *   -G ...   goes on to the real ssh (STAMP_SSH), as autossh-ts reads it
 *   else     ends the run: SIGKILL to the supervisor, then exits
 * Each line of STAMP_FILE: "G <ns> 0" or "ssh <ns> <parent's CPU ns>".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned long long cpu_ns(pid_t pid) {
  char dir[64];
  unsigned long long sum = 0;
  snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
  DIR *d = opendir(dir);
  if (!d) return 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char path[128];
    unsigned long long ns;
    snprintf(path, sizeof path, "%s/%s/schedstat", dir, e->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fscanf(f, "%llu", &ns) == 1) sum += ns;
    fclose(f);
  }
  closedir(d);
  return sum;
}

int main(int argc, char **argv) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  unsigned long long now = (unsigned long long)t.tv_sec * 1000000000ULL + (unsigned long long)t.tv_nsec;
  int asked = argc > 1 && strcmp(argv[1], "-G") == 0;
  pid_t parent = getppid();
  const char *out = getenv("STAMP_FILE");
  if (out) {
    FILE *f = fopen(out, "a");
    if (f) {
      fprintf(f, "%s %llu %llu\n", asked ? "G" : "ssh", now, asked ? 0ULL : cpu_ns(parent));
      fclose(f);
    }
  }
  if (asked) {
    const char *ssh = getenv("STAMP_SSH");
    execv(ssh ? ssh : "/usr/bin/ssh", argv);
    return 255;
  }
  kill(parent, SIGKILL);
  return 0;
}
