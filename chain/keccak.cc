#include "chain/keccak.h"

#include <algorithm>
#include <cstring>

namespace chain {
namespace {

constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL, 0x000000000000808bULL,
    0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL, 0x0000000000000088ULL,
    0x0000000080008009ULL, 0x000000008000000aULL, 0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

inline uint64_t Rol(uint64_t v, int n) { return (v << n) | (v >> (64 - n)); }

// Little-endian load/store through memcpy: one instruction on x86-64, correct everywhere.
inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}

inline void Store64(uint8_t* p, uint64_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  std::memcpy(p, &v, 8);
}

// XORs one full rate block into the state.
inline void AbsorbBlock(uint64_t st[25], const uint8_t* block) {
  for (size_t i = 0; i < Keccak256Hasher::kRate / 8; ++i) st[i] ^= Load64(block + 8 * i);
}

}  // namespace

// One round from lanes A?? into lanes E?? (theta, rho, pi, chi, iota fused), written out per
// lane so the compiler keeps the state in registers. Lane names: first letter row y
// (b,g,k,m,s = 0..4), second letter column x (a,e,i,o,u = 0..4).
//
// "Lane complementing" (the Keccak team's implementation note, also used by OpenSSL's
// assembly): six lanes (be, bi, go, ki, mi, sa) are kept bitwise inverted, which turns most of
// chi's `~a & b` into a single AND or OR and leaves 8 NOTs per round instead of 25.
#define KECCAK_ROUND(A, E, rc)                                 \
  do {                                                         \
    const uint64_t Ca = A##ba ^ A##ga ^ A##ka ^ A##ma ^ A##sa; \
    const uint64_t Ce = A##be ^ A##ge ^ A##ke ^ A##me ^ A##se; \
    const uint64_t Ci = A##bi ^ A##gi ^ A##ki ^ A##mi ^ A##si; \
    const uint64_t Co = A##bo ^ A##go ^ A##ko ^ A##mo ^ A##so; \
    const uint64_t Cu = A##bu ^ A##gu ^ A##ku ^ A##mu ^ A##su; \
    const uint64_t Da = Cu ^ Rol(Ce, 1);                       \
    const uint64_t De = Ca ^ Rol(Ci, 1);                       \
    const uint64_t Di = Ce ^ Rol(Co, 1);                       \
    const uint64_t Do = Ci ^ Rol(Cu, 1);                       \
    const uint64_t Du = Co ^ Rol(Ca, 1);                       \
    uint64_t Ba, Be, Bi, Bo, Bu;                               \
    Ba = A##ba ^ Da;                                           \
    Be = Rol(A##ge ^ De, 44);                                  \
    Bi = Rol(A##ki ^ Di, 43);                                  \
    Bo = Rol(A##mo ^ Do, 21);                                  \
    Bu = Rol(A##su ^ Du, 14);                                  \
    E##ba = Ba ^ (Be | Bi) ^ (rc);                             \
    E##be = Be ^ (~Bi | Bo);                                   \
    E##bi = Bi ^ (Bo & Bu);                                    \
    E##bo = Bo ^ (Bu | Ba);                                    \
    E##bu = Bu ^ (Ba & Be);                                    \
    Ba = Rol(A##bo ^ Do, 28);                                  \
    Be = Rol(A##gu ^ Du, 20);                                  \
    Bi = Rol(A##ka ^ Da, 3);                                   \
    Bo = Rol(A##me ^ De, 45);                                  \
    Bu = Rol(A##si ^ Di, 61);                                  \
    E##ga = Ba ^ (Be | Bi);                                    \
    E##ge = Be ^ (Bi & Bo);                                    \
    E##gi = Bi ^ (Bo | ~Bu);                                   \
    E##go = Bo ^ (Bu | Ba);                                    \
    E##gu = Bu ^ (Ba & Be);                                    \
    Ba = Rol(A##be ^ De, 1);                                   \
    Be = Rol(A##gi ^ Di, 6);                                   \
    Bi = Rol(A##ko ^ Do, 25);                                  \
    Bo = Rol(A##mu ^ Du, 8);                                   \
    Bu = Rol(A##sa ^ Da, 18);                                  \
    E##ka = Ba ^ (Be | Bi);                                    \
    E##ke = Be ^ (Bi & Bo);                                    \
    E##ki = Bi ^ (~Bo & Bu);                                   \
    E##ko = ~Bo ^ (Bu | Ba);                                   \
    E##ku = Bu ^ (Ba & Be);                                    \
    Ba = Rol(A##bu ^ Du, 27);                                  \
    Be = Rol(A##ga ^ Da, 36);                                  \
    Bi = Rol(A##ke ^ De, 10);                                  \
    Bo = Rol(A##mi ^ Di, 15);                                  \
    Bu = Rol(A##so ^ Do, 56);                                  \
    E##ma = Ba ^ (Be & Bi);                                    \
    E##me = Be ^ (Bi | Bo);                                    \
    E##mi = Bi ^ (~Bo | Bu);                                   \
    E##mo = ~Bo ^ (Bu & Ba);                                   \
    E##mu = Bu ^ (Ba | Be);                                    \
    Ba = Rol(A##bi ^ Di, 62);                                  \
    Be = Rol(A##go ^ Do, 55);                                  \
    Bi = Rol(A##ku ^ Du, 39);                                  \
    Bo = Rol(A##ma ^ Da, 41);                                  \
    Bu = Rol(A##se ^ De, 2);                                   \
    E##sa = Ba ^ (~Be & Bi);                                   \
    E##se = ~Be ^ (Bi | Bo);                                   \
    E##si = Bi ^ (Bo & Bu);                                    \
    E##so = Bo ^ (Bu | Ba);                                    \
    E##su = Bu ^ (Ba & Be);                                    \
  } while (0)

void KeccakF1600(uint64_t st[25]) {
  // Enter the complemented representation (lanes 1, 2, 8, 12, 17, 20) and leave it at the end.
  uint64_t Aba = st[0], Abe = ~st[1], Abi = ~st[2], Abo = st[3], Abu = st[4];
  uint64_t Aga = st[5], Age = st[6], Agi = st[7], Ago = ~st[8], Agu = st[9];
  uint64_t Aka = st[10], Ake = st[11], Aki = ~st[12], Ako = st[13], Aku = st[14];
  uint64_t Ama = st[15], Ame = st[16], Ami = ~st[17], Amo = st[18], Amu = st[19];
  uint64_t Asa = ~st[20], Ase = st[21], Asi = st[22], Aso = st[23], Asu = st[24];
  uint64_t Eba, Ebe, Ebi, Ebo, Ebu, Ega, Ege, Egi, Ego, Egu, Eka, Eke, Eki, Eko, Eku;
  uint64_t Ema, Eme, Emi, Emo, Emu, Esa, Ese, Esi, Eso, Esu;
  // Two rounds per iteration so the lanes ping-pong between A and E without copies.
  for (int round = 0; round < 24; round += 2) {
    KECCAK_ROUND(A, E, kRoundConstants[round]);
    KECCAK_ROUND(E, A, kRoundConstants[round + 1]);
  }
  st[0] = Aba, st[1] = ~Abe, st[2] = ~Abi, st[3] = Abo, st[4] = Abu;
  st[5] = Aga, st[6] = Age, st[7] = Agi, st[8] = ~Ago, st[9] = Agu;
  st[10] = Aka, st[11] = Ake, st[12] = ~Aki, st[13] = Ako, st[14] = Aku;
  st[15] = Ama, st[16] = Ame, st[17] = ~Ami, st[18] = Amo, st[19] = Amu;
  st[20] = ~Asa, st[21] = Ase, st[22] = Asi, st[23] = Aso, st[24] = Asu;
}

#undef KECCAK_ROUND

void Keccak256Hasher::Reset() {
  std::memset(state_, 0, sizeof(state_));
  buffered_ = 0;
}

void Keccak256Hasher::Update(ByteView data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  if (n == 0) return;  // an empty span may carry a null pointer, which memcpy must not see
  if (buffered_ > 0) {
    const size_t take = std::min(n, kRate - buffered_);
    std::memcpy(buffer_ + buffered_, p, take);
    buffered_ += take;
    p += take;
    n -= take;
    if (buffered_ < kRate) return;
    AbsorbBlock(state_, buffer_);
    KeccakF1600(state_);
    buffered_ = 0;
  }
  // Full blocks straight from the input, no copy.
  while (n >= kRate) {
    AbsorbBlock(state_, p);
    KeccakF1600(state_);
    p += kRate;
    n -= kRate;
  }
  if (n > 0) {
    std::memcpy(buffer_, p, n);
    buffered_ = n;
  }
}

void Keccak256Hasher::Update(absl::string_view text) {
  Update(ByteView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

Hash32 Keccak256Hasher::Final() {
  // Keccak padding pad10*1 with the 0x01 domain byte (SHA3 would use 0x06).
  std::memset(buffer_ + buffered_, 0, kRate - buffered_);
  buffer_[buffered_] ^= 0x01;
  buffer_[kRate - 1] ^= 0x80;
  AbsorbBlock(state_, buffer_);
  KeccakF1600(state_);
  Hash32 out;
  for (int i = 0; i < 4; ++i) Store64(out.data() + 8 * i, state_[i]);
  Reset();
  return out;
}

Hash32 Keccak256(ByteView data) {
  Keccak256Hasher h;
  h.Update(data);
  return h.Final();
}

Hash32 Keccak256(absl::string_view text) {
  Keccak256Hasher h;
  h.Update(text);
  return h.Final();
}

}  // namespace chain
