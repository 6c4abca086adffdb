/* reqprof.c - diagnostic LD_PRELOAD (2026-12-08, not built by the project):
 * wraps glibc malloc with a 16-byte header, tracks live requested bytes and
 * writes, at exit, the histogram of live request sizes at the peak (16-byte
 * buckets, exact sizes below 8 KiB) to $PROF_OUT.<pid>.
 * gcc -O2 -fno-builtin -shared -fPIC -o reqprof.so reqprof.c */
/* request-size profiler: live requested bytes, histogram at peak */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
extern void *__libc_malloc(size_t); extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t); extern void *__libc_realloc(void*, size_t);
#define NB 16385  /* 16-byte buckets to 256 KiB, last = larger */
static int64_t live[NB], peakh[NB]; static int64_t large_live, large_peak;
static int64_t cur, peak, snap;
static int64_t nlive, nlive_peak;
#define MAGIC 0x5eedf00d00000000ull
struct hdr { uint64_t size; uint64_t off; };
static inline int bk(size_t n){ return n >= 262144 ? NB-1 : (int)(n >> 4); }
static int64_t ex[8192], expk[8192];
static void add(size_t n, int s){ live[bk(n)] += s; if (n<8192) ex[n]+=s; cur += s*(int64_t)n; nlive+=s; if (n>=262144) large_live += s*(int64_t)n;
  if (cur > peak) { peak = cur; if (peak > snap + (1<<18)) { snap = peak; memcpy(peakh, live, sizeof live); memcpy(expk, ex, sizeof ex); large_peak = large_live; nlive_peak = nlive; } } }
static void *wrap(void *b, size_t n, size_t off){ if(!b) return 0; struct hdr *h = (struct hdr*)((char*)b+off) - 1; h->size=n; h->off=MAGIC|off; add(n,1); return h+1; }
void *malloc(size_t n){ return wrap(__libc_malloc(n+16), n, 16); }
void *calloc(size_t a, size_t b){ size_t n=a*b; void *p = malloc(n); if(p) memset(p,0,n); return p; }
void free(void *p){ if(!p) return; struct hdr *h=(struct hdr*)p-1; if ((h->off>>32)!=(MAGIC>>32)) { return; } add(h->size,-1); size_t off=h->off&0xffffffff; h->off=0; __libc_free((char*)p-off); }
void *realloc(void *p, size_t n){ if(!p) return malloc(n); if(!n){free(p);return 0;} struct hdr *h=(struct hdr*)p-1; size_t o=h->size; if ((h->off&0xffffffff)==16) { add(o,-1); h->off=0; void *b=__libc_realloc(h, n+16); if(!b){ h->off=MAGIC|16; add(o,1); return 0;} return wrap(b,n,16); } void *q=malloc(n); if(!q) return 0; memcpy(q,p,o<n?o:n); free(p); return q; }
void *memalign(size_t al, size_t n){ if (al<16) al=16; void *b=__libc_memalign(al, n+al); return wrap(b, n, al); }
int posix_memalign(void **r, size_t al, size_t n){ void *p=memalign(al,n); if(!p) return 12; *r=p; return 0; }
void *aligned_alloc(size_t al, size_t n){ return memalign(al,n); }
void *valloc(size_t n){ return memalign(4096,n); }
void *pvalloc(size_t n){ return memalign(4096,(n+4095)&~4095ul); }
size_t malloc_usable_size(void *p){ return p ? ((struct hdr*)p-1)->size : 0; }
__attribute__((destructor)) static void fin(void){
  const char *f = getenv("PROF_OUT"); if(!f) return; char path[256]; snprintf(path, sizeof path, "%s.%d", f, getpid());
  FILE *o = fopen(path, "w"); if(!o) return;
  fprintf(o, "peak %lld blocks %lld large %lld\n", (long long)peak, (long long)nlive_peak, (long long)large_peak);
  for (int i=0;i<NB;i++) if (peakh[i]) fprintf(o, "%d %lld\n", i, (long long)peakh[i]);
  for (int i=0;i<8192;i++) if (expk[i]) fprintf(o, "x %d %lld\n", i, (long long)expk[i]);
  fclose(o);
}
