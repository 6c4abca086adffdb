/* layout.c - the layout table (layout.h) as data for the run-time paths:
 * hk_class[] (stride, usable, header, span units, first offset, capacities
 * and, in the checked builds, the canary's bytes and place per class and
 * the guard pages counted out of capacities) and the request-to-class
 * lookup of the tiny range with the request buckets each tiny class serves.
 *
 * Invariants: every entry is an integer constant expression of its table
 * row, computed at compile time, so no path keeps a second copy of the
 * geometry; the layout.h _Static_asserts (I1-I5) hold for every row here.
 */
#include "internal.h"

#define HK_ROW_INFO(i, st, h, u, c)                                            \
  [i] = {(st), HK_ROW_USABLE(st, h, c), (h), (u), HK_ROW_FIRST_OFF(h),         \
         HK_ROW_CAP(st, h, u), HK_ROW_CAP0(st, h, u) HK_ROW_INFO_CANARY_(st, h, c)},
#if HK_ON(CANARY)
#define HK_ROW_INFO_CANARY_(st, h, c) , HK_ROW_CANARY(c), HK_ROW_CANARY_AT(st, h)
#else
#define HK_ROW_INFO_CANARY_(st, h, c)
#endif
const hk_class_info_t hk_class[HK_NCLASSES] = {HK_CLASS_TABLE(HK_ROW_INFO)};
#if HK_ON(GUARD)
#define HK_ROW_CAPG_INFO(i, st, h, u, c) [i] = {HK_ROW_CAPG(st, h, u), HK_ROW_CAP0G(st, h, u)},
const uint32_t hk_class_capg[HK_NCLASSES][2] = {HK_CLASS_TABLE(HK_ROW_CAPG_INFO)};
#endif

#define Q4(q) HK_TINY_CLASS_FOR_Q(q), HK_TINY_CLASS_FOR_Q(q + 1), \
              HK_TINY_CLASS_FOR_Q(q + 2), HK_TINY_CLASS_FOR_Q(q + 3)
#define Q16(q) Q4(q), Q4(q + 4), Q4(q + 8), Q4(q + 12)
#define HK_ROW_QLO(i, st, h, u, c) [i] = (uint8_t)((i) < HK_TINY_CLASSES ? HK_TINY_Q_LO(i) : 0),
#define HK_ROW_QHI(i, st, h, u, c) [i] = (uint8_t)((i) < HK_TINY_CLASSES ? HK_TINY_Q_HI(st, h, c) : 0),
/* (0 for the classes above the tiny range, which have no direct entries) */
const uint8_t hk_tiny_q_lo[HK_NCLASSES] = {HK_CLASS_TABLE(HK_ROW_QLO)};
const uint8_t hk_tiny_q_hi[HK_NCLASSES] = {HK_CLASS_TABLE(HK_ROW_QHI)};
const uint8_t hk_tiny_class_lut[HK_TINY_QS] = {
    Q16(0), Q16(16), Q16(32), Q16(48), HK_TINY_CLASS_FOR_Q(64),
    HK_TINY_CLASS_FOR_Q(65)};

