/* layout.h - the one size-class layout table.
 *
 * Every path that needs a block's geometry (carve, refill, capacity, index
 * math, usable size, the checks) reads it from here.  The table is an
 * X-macro so that each derived quantity is an integer constant expression:
 * the invariants are _Static_asserts, not comments.
 *
 * Block geometry (see docs/architecture.md, "Layout"):
 *   - a block occupies `stride` bytes; the user pointer u is 16-aligned;
 *   - headered classes keep one in-band header byte at u-1, so the usable
 *     bytes are [u, u + stride - 1) and the header of block i+1 is the last
 *     byte of block i's stride;
 *   - headerless classes (1 KiB and every mid class) use [u, u + stride);
 *   - the first user pointer of a span is span_base + meta + first_off,
 *     where meta is HK_SS_META for a span that starts at unit 0 of its
 *     superslab (the superslab header lives there) and 0 otherwise, and
 *     first_off is 16 for headered classes (room for block 0's header) and
 *     0 otherwise.
 *
 * Invariants (all checked below):
 *   I1 stride % 16 == 0 and first_off % 16 == 0, so every u is 16-aligned;
 *   I2 usable == stride - header and usable >= the class's request limit;
 *   I3 the last block of a span ends inside the span, for both capacities;
 *   I4 classes are sorted by usable size, so the smallest fitting class is
 *      the first one that fits;
 *   I5 headered classes fit the 5-bit class field of the header byte.
 *
 * Guard pages (checked builds, switch GUARD; docs/hardening.md): every
 * superslab keeps HK_GUARD bytes of no-access memory right after its header
 * and at the end of the units in HK_GUARD_UNIT_MASK (15 and 31), set once
 * when it is mapped.  So a span that starts at unit 0 begins HK_SS_FIRST =
 * HK_SS_META + HK_GUARD into it, a span that ends at a guarded unit ends
 * HK_GUARD early, no span runs across a guard, and spans are at most
 * HK_SPAN_MAX_UNITS long: the capacities below count the guards out (cap,
 * cap0, capg, cap0g).  Release has HK_GUARD = 0 and its layout unchanged.
 */
#ifndef HAKMEM_LAYOUT_H
#define HAKMEM_LAYOUT_H

#include <stdint.h>

#include "config.h"

/* ---- superslab geometry ------------------------------------------------ */
#define HK_SS_SHIFT    21                      /* 2 MiB superslab, THP sized */
#define HK_SS_SIZE     ((uintptr_t)1 << HK_SS_SHIFT)
#define HK_UNIT_SHIFT  16                      /* 64 KiB slab unit          */
#define HK_UNIT_SIZE   ((uintptr_t)1 << HK_UNIT_SHIFT)
#define HK_UNITS       (HK_SS_SIZE / HK_UNIT_SIZE) /* 32 units per superslab */
/* Bytes at the start of unit 0 reserved for the superslab header: slab
 * descriptors plus the per-block state bitmap (1 bit per 16 bytes).  The
 * same in every variant, so all variants share one layout. */
#define HK_SS_META     24576u
#define HK_STATE_BYTES (HK_SS_SIZE / 16 / 8)   /* 16 KiB */

/* ---- guard pages (checked builds) ----------------------------------------
 * HK_GUARD bytes of PROT_NONE at [HK_SS_META, HK_SS_FIRST) and at the end of
 * each unit in HK_GUARD_UNIT_MASK.  Two guards 1 MiB apart plus the one
 * after the header: every stretch of 1 MiB that starts at a block's end or
 * ends at a block's start holds a guard page. */
#define HK_GUARD       (HK_ON(GUARD) ? 4096u : 0u)
#define HK_GUARD_UNIT_MASK (HK_ON(GUARD) ? (1u << 15 | 1u << 31) : 0u)
#define HK_SS_FIRST    (HK_SS_META + HK_GUARD)  /* first byte a unit-0 span uses */
/* the guard bytes a span loses at its end, when its last unit is guarded */
#define HK_GUARD_TAIL(last_unit) ((HK_GUARD_UNIT_MASK >> (last_unit) & 1u) ? HK_GUARD : 0u)
/* longest span: no span may hold a guard page inside it */
#define HK_SPAN_MAX_UNITS (HK_ON(GUARD) ? 16u : 32u)

#define HK_ALIGN       16u
#define HK_HDR_MAGIC   0xA0u                   /* header = magic | class    */
#define HK_HDR_CLASS_MASK 0x1Fu
/* Checked builds: a header byte with this bit (outside the magic and the
 * class) belongs to a block handed out by operator new[] (new.cc, harden.c);
 * the header checks ignore it.  Release never sets it. */
#define HK_HDR_ARRAY   0x40u
_Static_assert(((HK_HDR_MAGIC | HK_HDR_CLASS_MASK) & HK_HDR_ARRAY) == 0,
               "the new[] bit is neither magic nor class");

/* ---- the class table -----------------------------------------------------
 * X(index, stride, header, units)
 *   stride: bytes per block; header: 1 = in-band header byte; units: 64 KiB
 *   units per span of this class.  Tiny classes (<= 1 KiB) step by 16 up to
 *   128 B, then four classes per doubling; mid classes (1 KiB - 64 KiB) and
 *   L2.5 classes (64 KiB - 256 KiB) keep four per doubling.  Above 256 KiB
 *   blocks are whale mappings (whale.c).  Rationale and measured waste:
 *   docs/architecture.md.
 */
#define HK_CLASS_TABLE_A(X, a) \
  X(a,  0,    16, 1, 1) X(a,  1,    32, 1, 1) X(a,  2,    48, 1, 1) X(a,  3,    64, 1, 1) \
  X(a,  4,    80, 1, 1) X(a,  5,    96, 1, 1) X(a,  6,   112, 1, 1) X(a,  7,   128, 1, 1) \
  X(a,  8,   160, 1, 1) X(a,  9,   192, 1, 1) X(a, 10,   224, 1, 1) X(a, 11,   256, 1, 1) \
  X(a, 12,   320, 1, 1) X(a, 13,   384, 1, 1) X(a, 14,   448, 1, 1) X(a, 15,   512, 1, 1) \
  X(a, 16,   640, 1, 1) X(a, 17,   768, 1, 1) X(a, 18,   896, 1, 1) X(a, 19,  1024, 0, 1) \
  X(a, 20,  1280, 0, 1) X(a, 21,  1536, 0, 1) X(a, 22,  1792, 0, 1) X(a, 23,  2048, 0, 1) \
  X(a, 24,  2560, 0, 1) X(a, 25,  3072, 0, 1) X(a, 26,  3584, 0, 1) X(a, 27,  4096, 0, 1) \
  X(a, 28,  5120, 0, 1) X(a, 29,  6144, 0, 1) X(a, 30,  7168, 0, 1) X(a, 31,  8192, 0, 1) \
  X(a, 32, 10240, 0, 8) X(a, 33, 12288, 0, 8) X(a, 34, 14336, 0, 8) X(a, 35, 16384, 0, 8) \
  X(a, 36, 20480, 0, 16) X(a, 37, 24576, 0, 16) X(a, 38, 28672, 0, 16) X(a, 39, 32768, 0, 16) \
  X(a, 40, 40960, 0, 16) X(a, 41, 49152, 0, 16) X(a, 42, 57344, 0, 16) X(a, 43, 65536, 0, 16) \
  X(a, 44,  81920, 0, 16) X(a, 45,  98304, 0, 16) X(a, 46, 114688, 0, 16) X(a, 47, 131072, 0, 32) \
  X(a, 48, 163840, 0, 32) X(a, 49, 196608, 0, 32) X(a, 50, 229376, 0, 32) X(a, 51, 262144, 0, 32)
/* The plain form X(index, stride, header, units); with guard pages a span
 * is at most HK_SPAN_MAX_UNITS long (the 32-unit L2.5 spans take 16). */
#define HK_ROW_UNITS_(u) ((u) < HK_SPAN_MAX_UNITS ? (u) : HK_SPAN_MAX_UNITS)
#define HK_APPLY_(X, i, st, h, u) X(i, st, h, HK_ROW_UNITS_(u))
#define HK_CLASS_TABLE(X) HK_CLASS_TABLE_A(HK_APPLY_, X)

#define HK_NCLASSES      52
#define HK_TINY_CLASSES  20          /* classes 0..19 are the tiny range   */
#define HK_TINY_MAX      1024u       /* largest tiny request               */
#define HK_MID_FIRST     20          /* first mid class                    */
#define HK_MID_MAX       65536u      /* largest mid request                */
#define HK_L25_FIRST     44          /* first L2.5 class                   */
#define HK_CLASS_MAX     262144u     /* largest request served by classes  */

#define HK_MIN_(a, b) ((a) < (b) ? (a) : (b))

/* Derived quantities, as constant expressions of a row. */
#define HK_ROW_USABLE(st, h)        ((st) - (h))
#define HK_ROW_FIRST_OFF(h)         ((h) ? 16u : 0u)
#define HK_ROW_SPAN(u)              ((u) * (uint32_t)HK_UNIT_SIZE)
/* blocks of a span whose first `meta` bytes and last `tail` bytes are not
 * its own (the superslab header and a guard page) */
#define HK_ROW_CAPX(st, h, u, meta, tail) \
  ((HK_ROW_SPAN(u) - (meta) - (tail) - HK_ROW_FIRST_OFF(h)) / (st))
#define HK_ROW_CAP(st, h, u)   HK_ROW_CAPX(st, h, u, 0u, 0u)
#define HK_ROW_CAP0(st, h, u)  HK_ROW_CAPX(st, h, u, HK_SS_FIRST, 0u)
/* the same for a span that ends at a guarded unit (= cap, cap0 in release) */
#define HK_ROW_CAPG(st, h, u)  HK_ROW_CAPX(st, h, u, 0u, HK_GUARD)
#define HK_ROW_CAP0G(st, h, u) HK_ROW_CAPX(st, h, u, HK_SS_FIRST, HK_GUARD)

/* ---- compile-time checks of I1..I5 ---------------------------------------- */
#define HK_ROW_ASSERTS(i, st, h, u)                                            \
  _Static_assert((st) % HK_ALIGN == 0, "I1: stride of class " #i);             \
  _Static_assert(HK_ROW_FIRST_OFF(h) % HK_ALIGN == 0, "I1: first_off " #i);    \
  _Static_assert(HK_SS_FIRST % HK_ALIGN == 0, "I1: meta");                     \
  _Static_assert((h) == 0 || (h) == 1, "header is 0 or 1 byte, class " #i);    \
  _Static_assert(HK_ROW_CAP0G(st, h, u) >= 1, "I3: unit-0 span holds a block " #i); \
  _Static_assert(HK_ROW_FIRST_OFF(h) + HK_ROW_CAP(st, h, u) * (st) - (h)       \
                     <= HK_ROW_SPAN(u), "I3: span overrun, class " #i);        \
  _Static_assert(HK_SS_FIRST + HK_ROW_FIRST_OFF(h) + HK_ROW_CAP0(st, h, u) * (st) \
                     - (h) <= HK_ROW_SPAN(u), "I3: unit-0 overrun, class " #i); \
  _Static_assert(HK_ROW_FIRST_OFF(h) + HK_ROW_CAPG(st, h, u) * (st) - (h)      \
                     <= HK_ROW_SPAN(u) - HK_GUARD, "I3: guard overrun, class " #i); \
  _Static_assert(HK_SS_FIRST + HK_ROW_FIRST_OFF(h) + HK_ROW_CAP0G(st, h, u) * (st) \
                     - (h) <= HK_ROW_SPAN(u) - HK_GUARD, "I3: unit-0 guard overrun " #i); \
  _Static_assert(HK_ROW_CAP(st, h, u) <= 65535, "capacity fits 16 bits " #i);  \
  _Static_assert((h) == 0 || (i) <= (int)HK_HDR_CLASS_MASK, "I5: class " #i);  \
  _Static_assert((u) == 1 || (u) == 2 || (u) == 4 || (u) == 8 || (u) == 16 ||  \
                 (u) == (int)HK_UNITS, "span units of class " #i);
HK_CLASS_TABLE(HK_ROW_ASSERTS)

/* I4: sortedness without nesting the table in itself.  In one enum, each
 * row emits HK_ORDER_CHK_i with no initializer (so it equals the previous
 * row's usable size + 1) followed by HK_ORDER_USABLE_i = its usable size. */
#define HK_ROW_ORDER_ENUM(i, st, h, u) \
  HK_ORDER_CHK_##i, HK_ORDER_USABLE_##i = HK_ROW_USABLE(st, h),
enum { HK_ORDER_START_ = 0, HK_CLASS_TABLE(HK_ROW_ORDER_ENUM) HK_ORDER_END_ };
#define HK_ROW_SORTED(i, st, h, u) \
  _Static_assert(HK_ORDER_CHK_##i <= HK_ROW_USABLE(st, h), \
                 "I4: classes sorted by usable size, class " #i);
HK_CLASS_TABLE(HK_ROW_SORTED)
_Static_assert(HK_ORDER_USABLE_19 == HK_TINY_MAX && HK_TINY_CLASSES == 20,
               "I2: the last tiny class serves HK_TINY_MAX");
_Static_assert(HK_ORDER_USABLE_43 == HK_MID_MAX && HK_L25_FIRST == 44,
               "I2: the last mid class serves HK_MID_MAX");
_Static_assert(HK_ORDER_USABLE_51 == HK_CLASS_MAX && HK_NCLASSES == 52,
               "I2: the last L2.5 class serves HK_CLASS_MAX");

/* The request buckets q = (n + 16) >> 4 that a tiny class serves: from the
 * first request above the previous class's usable size (HK_ORDER_CHK_i is
 * that size + 1) to its own usable size.  The fast path indexes the heap's
 * direct table by q. */
#define HK_TINY_Q_LO(i) ((HK_ORDER_CHK_##i + 16u) >> 4)
#define HK_TINY_Q_HI(st, h) HK_MIN_((HK_ROW_USABLE(st, h) + 16u) >> 4, 65u)
#define HK_TINY_QS 66

/* Smallest tiny class whose usable size covers every request n with
 * (n + 16) >> 4 == q, i.e. n in [16q - 16, min(16q - 1, HK_TINY_MAX)].
 * Used to build the request-to-class lookup table at compile time. */
#define HK_ROW_FITS_Q_(q, i, st, h, u)                                         \
  ((i) < HK_TINY_CLASSES &&                                                    \
   HK_MIN_(16u * (q) - 1u, HK_TINY_MAX) <= HK_ROW_USABLE(st, h)) ? (i) :
#define HK_TINY_CLASS_FOR_Q(q) (HK_CLASS_TABLE_A(HK_ROW_FITS_Q_, q) 255)

/* Class count and tiny/mid split agree with the table. */
#define HK_ROW_COUNT(i, st, h, u) +1
_Static_assert(0 HK_CLASS_TABLE(HK_ROW_COUNT) == HK_NCLASSES, "HK_NCLASSES");

#endif /* HAKMEM_LAYOUT_H */
