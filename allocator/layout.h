/* layout.h - the one size-class layout table.
 *
 * Every path that needs a block's geometry (carve, refill, capacity, index
 * math, usable size, the checks) reads it from here.  The table is an
 * X-macro so that each derived quantity is an integer constant expression:
 * the invariants are _Static_asserts, not comments.
 *
 * Block geometry (see docs/architecture.md, "Layout"):
 *   - a block occupies `stride` bytes; the user pointer u is 16-aligned;
 *   - headered classes keep one in-band header byte at u-1, so the header
 *     of block i+1 is the last byte of block i's stride;
 *   - the checked builds (HK_ON(CANARY)) keep the row's `canary` bytes at
 *     the end of each stride, just before the next block's header byte (or
 *     the next block), and one more canary just before block 0's; the
 *     usable bytes are [u, u + stride - header - canary) there, and
 *     [u, u + stride - header) in release, whose layout has no canary;
 *   - a row's stride is the release stride; the checked builds add 16 to
 *     the stride of every headerless class (HK_ROW_PAD: its 8-byte canary,
 *     rounded up to the alignment), so that such a class still holds its
 *     row's stride, 2^k and every quarter or eighth step, plus 8 bytes:
 *     an exact power-of-two request keeps the class it has in release;
 *   - the first user pointer of a span is span_base + meta + first_off,
 *     where meta is HK_SS_META for a span that starts at unit 0 of its
 *     superslab (the superslab header lives there) and 0 otherwise, and
 *     first_off is 16 for headered classes (room for block 0's header) and
 *     in the checked builds (block 0's leading canary), 0 otherwise.
 * So the variants differ in the headerless classes' strides, in usable
 * sizes, first_off, span units and capacities, all from this table; the
 * classes and their headers are the same in every variant (the checked
 * builds cap the span units at 16: guard pages, below; and give 1-unit
 * headerless rows two: HK_APPLY_).
 *
 * Invariants (all checked below):
 *   I1 stride % 16 == 0 and first_off % 16 == 0, so every u is 16-aligned;
 *   I2 usable == stride - header - canary (the canary 0 in release) and
 *      usable >= the class's request limit; every class above the tiny
 *      range holds its row's stride plus the same HK_MID_OVER bytes (0 in
 *      release, 8 in the checked builds), and the rows' strides there are
 *      the steps hk_class_of_size computes (four per doubling to 64 KiB,
 *      eight from 64 KiB to 128 KiB, four to 256 KiB);
 *   I3 the last block of a span ends inside the span, for both capacities;
 *   I4 classes are sorted by usable size, so the smallest fitting class is
 *      the first one that fits;
 *   I5 headered classes fit the 5-bit class field of the header byte;
 *   I6 canaries are 2 or 8 bytes; the free-list link (8 bytes at u) and
 *      block 0's leading canary fit;
 *   I7 an L2.5 row of 8-unit spans holds as many blocks a superslab as
 *      16-unit spans would (guard pages counted).
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
 * X(index, stride, header, units, canary)
 *   stride: bytes per block; header: 1 = in-band header byte; units: 64 KiB
 *   units per span of this class; canary: bytes of the checked builds'
 *   canary at the end of the stride (none in release): 2 for the headered
 *   classes, so that their usable sizes stay 16 * k - 3 and every request
 *   bucket of the fast path's direct table maps to exactly one class (8
 *   would take half of a 16-byte block), 8 from 1 KiB up (with the 16
 *   bytes of HK_ROW_PAD on the stride there).
 *   Tiny classes (<= 1 KiB) step by 16 up to 128 B, then four classes per
 *   doubling; mid classes (1 KiB - 64 KiB) keep four per doubling; L2.5
 *   classes (64 KiB - 256 KiB) have eight from 64 to 128 KiB, where a span
 *   is 8 or 16 units (a 70 KiB block takes 72 KiB, not 80), and four
 *   above, where a span is a whole superslab and each class more costs a
 *   thread 2 MiB of address space.  The 64-128 KiB rows take 8 units where
 *   four 8-unit spans hold as many blocks as two of 16 (I7), so that each
 *   class's partly used span costs half the address space.
 *   Above 256 KiB blocks are whale mappings (whale.c).  Rationale and
 *   measured waste: docs/architecture.md.
 */
#define HK_CLASS_TABLE_A(X, a) \
  X(a,  0,    16, 1,  1, 2) X(a,  1,    32, 1,  1, 2) X(a,  2,    48, 1,  1, 2) X(a,  3,    64, 1,  1, 2) \
  X(a,  4,    80, 1,  1, 2) X(a,  5,    96, 1,  1, 2) X(a,  6,   112, 1,  1, 2) X(a,  7,   128, 1,  1, 2) \
  X(a,  8,   160, 1,  1, 2) X(a,  9,   192, 1,  1, 2) X(a, 10,   224, 1,  1, 2) X(a, 11,   256, 1,  1, 2) \
  X(a, 12,   320, 1,  1, 2) X(a, 13,   384, 1,  1, 2) X(a, 14,   448, 1,  1, 2) X(a, 15,   512, 1,  1, 2) \
  X(a, 16,   640, 1,  1, 2) X(a, 17,   768, 1,  1, 2) X(a, 18,   896, 1,  1, 2) X(a, 19,  1024, 0,  1, 8) \
  X(a, 20,  1280, 0,  1, 8) X(a, 21,  1536, 0,  1, 8) X(a, 22,  1792, 0,  1, 8) X(a, 23,  2048, 0,  1, 8) \
  X(a, 24,  2560, 0,  1, 8) X(a, 25,  3072, 0,  1, 8) X(a, 26,  3584, 0,  1, 8) X(a, 27,  4096, 0,  1, 8) \
  X(a, 28,  5120, 0,  1, 8) X(a, 29,  6144, 0,  1, 8) X(a, 30,  7168, 0,  1, 8) X(a, 31,  8192, 0,  1, 8) \
  X(a, 32, 10240, 0,  8, 8) X(a, 33, 12288, 0,  8, 8) X(a, 34, 14336, 0,  8, 8) X(a, 35, 16384, 0,  8, 8) \
  X(a, 36, 20480, 0, 16, 8) X(a, 37, 24576, 0, 16, 8) X(a, 38, 28672, 0, 16, 8) X(a, 39, 32768, 0, 16, 8) \
  X(a, 40, 40960, 0, 16, 8) X(a, 41, 49152, 0, 16, 8) X(a, 42, 57344, 0, 16, 8) X(a, 43, 65536, 0, 16, 8) \
  X(a, 44,  73728, 0,  8, 8) X(a, 45,  81920, 0,  8, 8) X(a, 46,  90112, 0, 16, 8) X(a, 47,  98304, 0,  8, 8) \
  X(a, 48, 106496, 0, 16, 8) X(a, 49, 114688, 0, 16, 8) X(a, 50, 122880, 0,  8, 8) X(a, 51, 131072, 0, 32, 8) \
  X(a, 52, 163840, 0, 32, 8) X(a, 53, 196608, 0, 32, 8) X(a, 54, 229376, 0, 32, 8) X(a, 55, 262144, 0, 32, 8)
/* The checked builds' pad on a headerless row's stride: its canary rounded
 * up to HK_ALIGN (16), so that the class holds the row's stride + 8 bytes. */
#define HK_ROW_PAD(h, c) (HK_ON(CANARY) && !(h) ? ((c) + HK_ALIGN - 1u) / HK_ALIGN * HK_ALIGN : 0u)
#define HK_ROW_STRIDE(st, h, c) ((st) + HK_ROW_PAD(h, c))
/* The plain form X(index, stride, header, units, canary), with this
 * variant's stride (HK_ROW_STRIDE) and span units: with guard pages a span
 * is at most HK_SPAN_MAX_UNITS long (the 32-unit L2.5 spans take 16), and
 * the checked builds give a padded class of 1-unit spans (1 KiB - 8 KiB)
 * two units, where the pad and the 16-byte first offset cost one block of
 * each unit its stride divided (4 KiB: 15 blocks a unit, 31 in two). */
#define HK_ROW_UNITS_(u, h, c) \
  (HK_ROW_PAD(h, c) && (u) == 1 ? 2u : (u) < HK_SPAN_MAX_UNITS ? (u) : HK_SPAN_MAX_UNITS)
#define HK_APPLY_(X, i, st, h, u, c) X(i, HK_ROW_STRIDE(st, h, c), h, HK_ROW_UNITS_(u, h, c), c)
#define HK_CLASS_TABLE(X) HK_CLASS_TABLE_A(HK_APPLY_, X)

#define HK_NCLASSES      56
#define HK_TINY_CLASSES  20          /* classes 0..19 are the tiny range   */
#define HK_MID_FIRST     20          /* first mid class                    */
#define HK_L25_FIRST     44          /* first L2.5 class                   */
/* The request limits are the usable sizes of classes 19, 43 and 55 (enum
 * below): 1024, 65536 and 262144 in release; 1032, 65544 and 262152 in the
 * checked builds (HK_ROW_PAD - the canary = 8 bytes more). */
#define HK_TINY_MAX      ((uint32_t)HK_ORDER_USABLE_19) /* largest tiny request */
#define HK_MID_MAX       ((uint32_t)HK_ORDER_USABLE_43) /* largest mid request  */
#define HK_CLASS_MAX     ((uint32_t)HK_ORDER_USABLE_55) /* largest class request */

#define HK_MIN_(a, b) ((a) < (b) ? (a) : (b))

/* Derived quantities, as constant expressions of a row. */
/* Canary bytes this variant keeps at the end of a block's stride. */
#define HK_ROW_CANARY(c)            (HK_ON(CANARY) ? (uint32_t)(c) : 0u)
/* INJECTED BUG (CANARY_SHORT): the canary's first byte counted as usable */
#define HK_CANARY_SHORT_            (HK_ON(CANARY) && HK_INJECT(CANARY_SHORT) ? 1u : 0u)
#define HK_ROW_USABLE(st, h, c)     ((st) - (h) - HK_ROW_CANARY(c) + HK_CANARY_SHORT_)
/* Offset from a block start of the 8-byte word whose last c bytes are the
 * block's canary (the word ends where the next block's header byte, or the
 * next block, begins). */
#define HK_ROW_CANARY_AT(st, h)     ((st) - (h) - 8u)
/* 16 for headered classes (block 0's header byte), and for every class in
 * the checked builds (block 0's leading canary) */
#define HK_ROW_FIRST_OFF(h)         ((h) || HK_ON(CANARY) ? 16u : 0u)
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

/* ---- compile-time checks of I1..I6 ---------------------------------------- */
#define HK_ROW_ASSERTS(i, st, h, u, c)                                         \
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
                 (u) == (int)HK_UNITS, "span units of class " #i);             \
  _Static_assert((c) == 2 || (c) == 8, "I6: canary of 2 or 8 bytes, class " #i); \
  _Static_assert((st) - (h) - (c) >= 8 && HK_ROW_FIRST_OFF(h) >= (h) + HK_ROW_CANARY(c), \
                 "I6: the link word and block 0's leading canary fit, class " #i);
HK_CLASS_TABLE(HK_ROW_ASSERTS)

/* I4: sortedness without nesting the table in itself.  In one enum, each
 * row emits HK_ORDER_CHK_i with no initializer (so it equals the previous
 * row's usable size + 1) followed by HK_ORDER_USABLE_i = its usable size. */
#define HK_ROW_ORDER_ENUM(i, st, h, u, c) \
  HK_ORDER_CHK_##i, HK_ORDER_USABLE_##i = HK_ROW_USABLE(st, h, c),
enum { HK_ORDER_START_ = 0, HK_CLASS_TABLE(HK_ROW_ORDER_ENUM) HK_ORDER_END_ };
/* Bytes by which a mid or L2.5 class's usable size exceeds its row's
 * stride: 0 in release, 8 in the checked builds (HK_ROW_PAD's 16 less the
 * canary's 8).  The same for every such class, so the class of a request n
 * above the tiny range is the quarter (eighth from 64 to 128 KiB) of the power
 * of two of n - 1 - HK_MID_OVER (hk_class_of_size, internal.h). */
#define HK_MID_OVER (HK_MID_MAX - 65536u)
/* The row strides of the classes above the tiny range, as that function
 * computes them: class i >= 20 is step j of the doubling from 2^b, with
 * four steps per doubling from 1 KiB (b = 10..15), eight from 64 KiB
 * (b = 16), four from 128 KiB (b = 17). */
#define HK_GEOM_STRIDE(i)                                                      \
  ((i) < HK_L25_FIRST                                                          \
       ? (1u << (10 + ((i) - HK_MID_FIRST) / 4)) +                             \
             ((((i) - HK_MID_FIRST) % 4 + 1u) << (8 + ((i) - HK_MID_FIRST) / 4)) \
       : (i) < HK_L25_FIRST + 8 ? (1u << 16) + (((i) - HK_L25_FIRST + 1u) << 13) \
                                 : (1u << 17) + (((i) - HK_L25_FIRST - 7u) << 15))
#define HK_ROW_SORTED(i, st, h, u, c)                                          \
  _Static_assert(HK_ORDER_CHK_##i <= HK_ROW_USABLE(st, h, c),                  \
                 "I4: classes sorted by usable size, class " #i);              \
  _Static_assert((i) < HK_MID_FIRST ||                                         \
                     (HK_ROW_USABLE(st, h, c) - HK_MID_OVER == HK_GEOM_STRIDE(i) && \
                      (st) - HK_ROW_PAD(h, c) == HK_GEOM_STRIDE(i)),           \
                 "I2: a class above the tiny range holds its step + HK_MID_OVER, class " #i);
HK_CLASS_TABLE(HK_ROW_SORTED)
_Static_assert(HK_TINY_MAX == 1024u + HK_MID_OVER && HK_MID_MAX == 65536u + HK_MID_OVER &&
                   HK_CLASS_MAX == 262144u + HK_MID_OVER &&
                   HK_MID_OVER == (HK_ON(CANARY) ? 8u : 0u) + HK_CANARY_SHORT_,
               "I2: every variant serves 1 KiB tiny, 64 KiB mid, 256 KiB class requests, "
               "8 bytes more in the checked builds");
_Static_assert(HK_TINY_CLASSES == 20 && HK_L25_FIRST == 44 && HK_NCLASSES == HK_L25_FIRST + 12,
               "I2: the tiny and mid ranges end at classes 19 and 43, L2.5 at 55");

/* The request buckets q = (n + 16 + HK_TINY_QBIAS) >> 4 that a tiny class
 * serves.  HK_TINY_QBIAS is the canary of the 16-step classes (2 bytes in
 * the checked builds, 0 in release), so that bucket q holds exactly the
 * requests of class q - 1 among them.  A class serves the buckets from the
 * first above the previous class's usable size (HK_ORDER_CHK_i is that size
 * + 1) to the last whose largest request it holds.  The fast path indexes
 * the heap's direct table by q. */
#define HK_TINY_QBIAS (HK_ON(CANARY) ? 2u : 0u)
#define HK_TINY_Q_LO(i) ((HK_ORDER_CHK_##i + 16u + HK_TINY_QBIAS) >> 4)
#define HK_TINY_Q_HI(st, h, c)                                                 \
  (HK_ROW_USABLE(st, h, c) >= HK_TINY_MAX ? 65u                                \
                                          : (HK_ROW_USABLE(st, h, c) + 1u + HK_TINY_QBIAS) >> 4)
#define HK_TINY_QS 66
#define HK_TINY_Q(n) (((n) + 16u + HK_TINY_QBIAS) >> 4)

/* Smallest tiny class whose usable size covers every request n with
 * HK_TINY_Q(n) == q, i.e. n in [16q - 16 - B, min(16q - 1 - B, HK_TINY_MAX)]
 * (B = HK_TINY_QBIAS).  Used to build the request-to-class lookup table at
 * compile time. */
#define HK_ROW_FITS_Q_(q, i, st, h, u, c)                                      \
  ((i) < HK_TINY_CLASSES &&                                                    \
   HK_MIN_(16u * (q) - 1u - HK_TINY_QBIAS, HK_TINY_MAX) <=                     \
       HK_ROW_USABLE(HK_ROW_STRIDE(st, h, c), h, c)) ? (i) :
#define HK_TINY_CLASS_FOR_Q(q) (HK_CLASS_TABLE_A(HK_ROW_FITS_Q_, q) 255)
_Static_assert(HK_TINY_Q(HK_TINY_MAX) < HK_TINY_QS, "the direct table holds every tiny bucket");
_Static_assert(HK_TINY_CLASS_FOR_Q(1) == 0 && HK_TINY_CLASS_FOR_Q(8) == 7 &&
               HK_TINY_CLASS_FOR_Q(HK_TINY_Q(HK_TINY_MAX)) == HK_TINY_CLASSES - 1,
               "bucket q holds class q - 1's requests (16-step classes); the last, class 19's");

/* I7: 8-unit spans tile a superslab at units 0, 8, 16 and 24 (the guards
 * end units 15 and 31), 16-unit spans at 0 and 16. */
#define HK_ROW_SS8_(st, h)                                                     \
  (HK_ROW_CAP0(st, h, 8) + HK_ROW_CAPG(st, h, 8) + HK_ROW_CAP(st, h, 8) + HK_ROW_CAPG(st, h, 8))
#define HK_ROW_SS16_(st, h) (HK_ROW_CAP0G(st, h, 16) + HK_ROW_CAPG(st, h, 16))
#define HK_ROW_L25_UNITS(i, st, h, u, c)                                       \
  _Static_assert((i) < HK_L25_FIRST || (u) != 8 || HK_ROW_SS8_(st, h) == HK_ROW_SS16_(st, h), \
                 "I7: 8-unit spans hold a superslab's blocks, class " #i);
HK_CLASS_TABLE(HK_ROW_L25_UNITS)
_Static_assert(HK_GUARD_UNIT_MASK == 0 || HK_GUARD_UNIT_MASK == (1u << 15 | 1u << 31),
               "I7 counts the guards at the end of units 15 and 31");

/* Class count and tiny/mid split agree with the table. */
#define HK_ROW_COUNT(i, st, h, u, c) +1
_Static_assert(0 HK_CLASS_TABLE(HK_ROW_COUNT) == HK_NCLASSES, "HK_NCLASSES");

#endif /* HAKMEM_LAYOUT_H */
