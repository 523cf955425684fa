// Independent oracle: foundry's `cast` 1.7.1 (npm @foundry-rs/cast) must produce byte for byte
// what chain/ produces, for randomly generated EIP-1559 and legacy transactions, the dstack
// calldata builders (factory, addComposeHash, app governance and view calls), event topics, EIP-55 checksums and
// EIP-191 signatures.
//
// cast runs fully offline here: `cast mktx` needs no RPC when --chain, --nonce, --gas-limit,
// --gas-price and --priority-gas-price (type 2) are all given, and the access list is passed as
// JSON. Caveat found while writing this: for chains cast knows to lack EIP-1559 (e.g. 250
// Fantom, 30 RSK) it silently builds a legacy transaction even with --priority-gas-price, so
// random chain ids are drawn from well-known EIP-1559 chains and from [2^32, 2^64).
//
// The seed is fixed and printed with every failure; override with CAST_ORACLE_SEED=<n>.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "chain/address.h"
#include "chain/dstack_app_calls.h"
#include "chain/dstack_app_events.h"
#include "chain/dstack_app_views.h"
#include "chain/dstack_calls.h"
#include "chain/eip191.h"
#include "chain/hex.h"
#include "chain/secp256k1.h"
#include "chain/transaction.h"
#include "test/support/node_tools.h"

extern char** environ;

namespace chain {
namespace {

// ---- running cast ----

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (no shell) and captures stdout and stderr.
RunResult Run(const std::vector<std::string>& argv) {
  RunResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.err = "pipe failed";
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    r.err = absl::StrCat("posix_spawn failed: ", rc);
    return r;
  }
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  absl::StripTrailingAsciiWhitespace(&r.out);
  return r;
}

// Runs all commands, several at a time (cast is single-shot and starts in ~20 ms).
std::vector<RunResult> RunAll(const std::vector<std::vector<std::string>>& commands) {
  std::vector<RunResult> results(commands.size());
  std::atomic<size_t> next{0};
  const unsigned workers = std::max(4u, std::thread::hardware_concurrency() * 2);
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < commands.size(); i = next++) results[i] = Run(commands[i]);
    });
  }
  for (std::thread& t : pool) t.join();
  return results;
}

std::string Describe(const std::vector<std::string>& argv, const RunResult& r) {
  return absl::StrCat("command: ", absl::StrJoin(argv, " "), "\nexit ", r.exit_code, "\nstdout: ", r.out,
                      "\nstderr: ", r.err);
}

// ---- random inputs ----

uint64_t Seed() {
  const char* env = std::getenv("CAST_ORACLE_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 20260807;
}

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  uint64_t U64() { return rng_(); }
  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool Chance(int percent) { return Below(100) < static_cast<uint64_t>(percent); }
  // A value with a uniformly random bit length in [0, bits]: exercises every RLP size class.
  U256 Bits(int bits) {
    const int len = static_cast<int>(Below(bits + 1));
    std::array<uint64_t, 4> l = {U64(), U64(), U64(), U64()};
    for (int i = 0; i < 4; ++i) {
      const int lo = i * 64;
      if (len <= lo) {
        l[i] = 0;
      } else if (len < lo + 64) {
        l[i] &= (uint64_t{1} << (len - lo)) - 1;
      }
    }
    if (len > 0) l[(len - 1) / 64] |= uint64_t{1} << ((len - 1) % 64);
    return U256::FromLimbs(l[0], l[1], l[2], l[3]);
  }
  uint64_t Bits64() { return Bits(64).Low64(); }
  Bytes RandomBytes(size_t n) {
    Bytes b(n);
    for (uint8_t& x : b) x = static_cast<uint8_t>(U64());
    return b;
  }
  Address RandomAddress() { return *Address::FromBytes(RandomBytes(20)); }
  Hash32 RandomHash() {
    // Some zero hashes: the contracts treat them specially.
    if (Chance(5)) return Hash32();
    return *Hash32::FromBytes(RandomBytes(32));
  }
  Bytes Secret() {
    while (true) {
      Bytes s = RandomBytes(32);
      if (ValidateSecret(s).ok()) return s;
    }
  }
  uint64_t ChainId() {
    static constexpr uint64_t kKnown[] = {1, 8453, 31337, 10, 137, 42161, 84532, 11155111};
    if (Chance(60)) return kKnown[Below(std::size(kKnown))];
    return (uint64_t{1} << 32) + Below(~uint64_t{0} - (uint64_t{1} << 32));
  }
  Bytes Calldata() {
    switch (Below(6)) {
      case 0:
        return {};
      case 1:
        return RandomBytes(1 + Below(4));
      case 2:
        return RandomBytes(36);
      case 3:
        return RandomBytes(164);
      default:
        return RandomBytes(Below(2000));
    }
  }

 private:
  std::mt19937_64 rng_;
};

std::string AccessListJson(const AccessList& list) {
  std::vector<std::string> entries;
  for (const AccessListEntry& e : list) {
    std::vector<std::string> keys;
    for (const Hash32& k : e.storage_keys) keys.push_back(absl::StrCat("\"", k.Hex(), "\""));
    entries.push_back(
        absl::StrCat("{\"address\":\"", e.address.Hex(), "\",\"storageKeys\":[", absl::StrJoin(keys, ","), "]}"));
  }
  return absl::StrCat("[", absl::StrJoin(entries, ","), "]");
}

class CastOracle : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> cast = testsupport::CastBinary();
    ASSERT_TRUE(cast.ok()) << cast.status();
    cast_ = *cast;
  }
  std::string cast_;
};

constexpr int kEip1559Count = 240;
constexpr int kLegacyCount = 40;

TEST_F(CastOracle, Eip1559TransactionsMatchMktxAndKeccak) {
  const uint64_t seed = Seed();
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed, ")"));
  Gen gen(seed);
  struct Case {
    Bytes secret;
    Eip1559Transaction tx;
    SignedTransaction ours;
  };
  std::vector<Case> cases;
  std::vector<std::vector<std::string>> commands;
  bool saw_mainnet = false, saw_base = false, saw_empty_data = false, saw_create = false;
  for (int i = 0; i < kEip1559Count; ++i) {
    Case c;
    c.secret = gen.Secret();
    Eip1559Transaction& tx = c.tx;
    // The first two are pinned to the chains the service targets.
    tx.chain_id = i == 0 ? 1 : i == 1 ? 8453 : gen.ChainId();
    tx.nonce = gen.Bits64();
    tx.gas_limit = gen.Bits64();
    // alloy (cast) holds fees as u128.
    tx.max_fee_per_gas = gen.Bits(128);
    tx.max_priority_fee_per_gas = gen.Bits(128);
    tx.value = gen.Bits(256);
    if (!gen.Chance(10)) tx.to = gen.RandomAddress();
    tx.data = gen.Calldata();
    if (gen.Chance(10)) {
      const int n = 1 + static_cast<int>(gen.Below(3));
      for (int e = 0; e < n; ++e) {
        AccessListEntry entry{gen.RandomAddress(), {}};
        const int keys = static_cast<int>(gen.Below(4));
        for (int k = 0; k < keys; ++k) entry.storage_keys.push_back(gen.RandomHash());
        tx.access_list.push_back(entry);
      }
    }
    saw_mainnet |= tx.chain_id == 1;
    saw_base |= tx.chain_id == 8453;
    saw_empty_data |= tx.data.empty();
    saw_create |= !tx.to.has_value();

    absl::StatusOr<SignedTransaction> ours = SignEip1559(c.secret, tx);
    ASSERT_TRUE(ours.ok()) << ours.status();
    c.ours = *ours;

    std::vector<std::string> cmd = {cast_,
                                    "mktx",
                                    "--private-key",
                                    ToHex(c.secret),
                                    "--chain",
                                    absl::StrCat(tx.chain_id),
                                    "--nonce",
                                    absl::StrCat(tx.nonce),
                                    "--gas-limit",
                                    absl::StrCat(tx.gas_limit),
                                    "--gas-price",
                                    tx.max_fee_per_gas.ToDecimal(),
                                    "--priority-gas-price",
                                    tx.max_priority_fee_per_gas.ToDecimal(),
                                    "--value",
                                    tx.value.ToDecimal()};
    if (!tx.access_list.empty()) {
      cmd.push_back("--access-list");
      cmd.push_back(AccessListJson(tx.access_list));
    }
    if (tx.to.has_value()) {
      cmd.push_back(tx.to->Checksummed());
      if (!tx.data.empty()) cmd.push_back(ToHex(tx.data));
    } else {
      cmd.push_back("--create");
      cmd.push_back(ToHex(tx.data));
    }
    commands.push_back(std::move(cmd));
    cases.push_back(std::move(c));
  }
  ASSERT_TRUE(saw_mainnet && saw_base && saw_empty_data && saw_create);

  // The hash: keccak of the raw bytes, checked with `cast keccak` too.
  std::vector<std::vector<std::string>> keccak_commands;
  for (const Case& c : cases) keccak_commands.push_back({cast_, "keccak", ToHex(c.ours.raw)});
  const std::vector<RunResult> mktx = RunAll(commands);
  const std::vector<RunResult> keccak = RunAll(keccak_commands);

  int mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(absl::StrCat("case ", i, ", chain ", c.tx.chain_id));
    ASSERT_EQ(mktx[i].exit_code, 0) << Describe(commands[i], mktx[i]);
    if (mktx[i].out.rfind("0x02", 0) != 0) {
      ADD_FAILURE() << "cast did not build a type-2 transaction (it switches to legacy for chains "
                       "it believes lack EIP-1559)\n"
                    << Describe(commands[i], mktx[i]);
      continue;
    }
    if (mktx[i].out != ToHex(c.ours.raw)) {
      ++mismatches;
      ADD_FAILURE() << "raw transaction differs\nours: " << ToHex(c.ours.raw) << "\n" << Describe(commands[i], mktx[i]);
    }
    ASSERT_EQ(keccak[i].exit_code, 0) << Describe(keccak_commands[i], keccak[i]);
    EXPECT_EQ(keccak[i].out, c.ours.hash.Hex());
    // And our own decoder reads it back to the same transaction and sender.
    absl::StatusOr<SignedEip1559Transaction> decoded = DecodeSignedEip1559(c.ours.raw);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->tx, c.tx);
    EXPECT_EQ(*decoded->Sender(), c.ours.from);
    EXPECT_EQ(c.ours.from, *AddressFromSecret(c.secret));
  }
  EXPECT_EQ(mismatches, 0);
}

TEST_F(CastOracle, LegacyEip155TransactionsMatchMktx) {
  const uint64_t seed = Seed() + 1;
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed - 1, ")"));
  Gen gen(seed);
  std::vector<SignedTransaction> ours;
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < kLegacyCount; ++i) {
    const Bytes secret = gen.Secret();
    LegacyTransaction tx;
    tx.chain_id = i == 0 ? 1 : gen.ChainId();
    tx.nonce = gen.Bits64();
    tx.gas_limit = gen.Bits64();
    tx.gas_price = gen.Bits(128);
    tx.value = gen.Bits(256);
    tx.to = gen.RandomAddress();
    tx.data = gen.Calldata();
    ours.push_back(*SignLegacy(secret, tx));
    std::vector<std::string> cmd = {cast_,
                                    "mktx",
                                    "--legacy",
                                    "--private-key",
                                    ToHex(secret),
                                    "--chain",
                                    absl::StrCat(*tx.chain_id),
                                    "--nonce",
                                    absl::StrCat(tx.nonce),
                                    "--gas-limit",
                                    absl::StrCat(tx.gas_limit),
                                    "--gas-price",
                                    tx.gas_price.ToDecimal(),
                                    "--value",
                                    tx.value.ToDecimal(),
                                    tx.to->Checksummed()};
    if (!tx.data.empty()) cmd.push_back(ToHex(tx.data));
    commands.push_back(std::move(cmd));
  }
  const std::vector<RunResult> results = RunAll(commands);
  for (size_t i = 0; i < ours.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("case ", i));
    ASSERT_EQ(results[i].exit_code, 0) << Describe(commands[i], results[i]);
    EXPECT_EQ(results[i].out, ToHex(ours[i].raw)) << Describe(commands[i], results[i]);
    absl::StatusOr<SignedLegacyTransaction> decoded = DecodeSignedLegacy(ours[i].raw);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded->Sender(), ours[i].from);
  }
}

TEST_F(CastOracle, DstackCalldataMatchesCastCalldata) {
  const uint64_t seed = Seed() + 2;
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed - 2, ")"));
  Gen gen(seed);
  std::vector<Bytes> ours;
  std::vector<std::vector<std::string>> commands;
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  for (int i = 0; i < 90; ++i) {
    DeployAndRegisterAppParams p;
    p.initial_owner = gen.RandomAddress();
    p.disable_upgrades = gen.Chance(50);
    p.allow_any_device = gen.Chance(50);
    p.initial_device_id = gen.RandomHash();
    p.initial_compose_hash = gen.RandomHash();
    if (i % 3 == 2) p.require_tcb_up_to_date = gen.Chance(50);
    ours.push_back(EncodeDeployAndRegisterApp(p));
    if (p.require_tcb_up_to_date.has_value()) {
      commands.push_back({cast_, "calldata", kDeployAndRegisterApp6Signature, p.initial_owner.Checksummed(),
                          b(p.disable_upgrades), b(*p.require_tcb_up_to_date), b(p.allow_any_device),
                          p.initial_device_id.Hex(), p.initial_compose_hash.Hex()});
    } else {
      commands.push_back({cast_, "calldata", kDeployAndRegisterApp5Signature, p.initial_owner.Checksummed(),
                          b(p.disable_upgrades), b(p.allow_any_device), p.initial_device_id.Hex(),
                          p.initial_compose_hash.Hex()});
    }
    EXPECT_EQ(*DecodeDeployAndRegisterApp(ours.back()), p);
  }
  for (int i = 0; i < 60; ++i) {
    const Hash32 h = gen.RandomHash();
    ours.push_back(EncodeAddComposeHash(h));
    commands.push_back({cast_, "calldata", kAddComposeHashSignature, h.Hex()});
  }
  const std::vector<RunResult> results = RunAll(commands);
  for (size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(results[i].exit_code, 0) << Describe(commands[i], results[i]);
    EXPECT_EQ(results[i].out, ToHex(ours[i])) << Describe(commands[i], results[i]);
  }
}

// The app governance calls (random arguments) and view calls against `cast calldata`, the
// selectors against `cast sig`, the event topics against `cast keccak`.
TEST_F(CastOracle, DstackAppCallsViewsAndTopicsMatchCast) {
  const uint64_t seed = Seed() + 5;
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed - 5, ")"));
  Gen gen(seed);
  std::vector<std::string> ours;
  std::vector<std::vector<std::string>> commands;
  auto expect = [&](const Bytes& data, std::vector<std::string> command) {
    ours.push_back(ToHex(data));
    commands.push_back(std::move(command));
  };
  for (int i = 0; i < 6; ++i) {  // few: cast's ~20 ms start-up each, on a shared machine
    const Hash32 id = gen.RandomHash();
    const Address owner = gen.RandomAddress();
    const bool any = gen.Chance(50);
    expect(EncodeAppCall(AddDevice{id}), {cast_, "calldata", kAddDeviceSignature, id.Hex()});
    expect(EncodeAppCall(RemoveDevice{id}), {cast_, "calldata", kRemoveDeviceSignature, id.Hex()});
    expect(EncodeAppCall(SetAllowAnyDevice{any}),
           {cast_, "calldata", kSetAllowAnyDeviceSignature, any ? "true" : "false"});
    expect(EncodeAppCall(TransferOwnership{owner}),
           {cast_, "calldata", kTransferOwnershipSignature, owner.Checksummed()});
    expect(EncodeAllowedDeviceIdsView(id), {cast_, "calldata", kAllowedDeviceIdsSignature, id.Hex()});
    expect(EncodeAllowedComposeHashesView(id), {cast_, "calldata", kAllowedComposeHashesSignature, id.Hex()});
  }
  expect(EncodeAppCall(AcceptOwnership{}), {cast_, "calldata", kAcceptOwnershipSignature});
  expect(EncodeAppCall(DisableUpgrades{}), {cast_, "calldata", kDisableUpgradesSignature});
  const std::pair<Bytes, const char*> views[] = {
      {EncodeOwnerView(), kOwnerSignature},
      {EncodePendingOwnerView(), kPendingOwnerSignature},
      {EncodeAllowAnyDeviceView(), kAllowAnyDeviceSignature},
      {EncodeRequireTcbUpToDateView(), kRequireTcbUpToDateSignature},
      {EncodeVersionView(), kVersionSignature},
  };
  for (const auto& [data, view] : views) {
    expect(data, {cast_, "calldata", view});
    expect(data, {cast_, "sig", view});
  }
  for (const char* signature : {kAddDeviceSignature, kRemoveDeviceSignature, kSetAllowAnyDeviceSignature,
                                kTransferOwnershipSignature, kAcceptOwnershipSignature, kDisableUpgradesSignature}) {
    ours.push_back(abi::SelectorHex(abi::FunctionSelector(signature)));
    commands.push_back({cast_, "sig", signature});
  }
  const std::pair<const Hash32*, const char*> topics[] = {
      {&DeviceAddedTopic(), kDeviceAddedEvent},
      {&DeviceRemovedTopic(), kDeviceRemovedEvent},
      {&AllowAnyDeviceSetTopic(), kAllowAnyDeviceSetEvent},
      {&UpgradesDisabledTopic(), kUpgradesDisabledEvent},
      {&OwnershipTransferredTopic(), kOwnershipTransferredEvent},
      {&OwnershipTransferStartedTopic(), kOwnershipTransferStartedEvent},
      {&ComposeHashAddedTopic(), kComposeHashAddedEvent},
  };
  for (const auto& [topic, event] : topics) {
    ours.push_back(topic->Hex());
    commands.push_back({cast_, "keccak", event});
  }
  const std::vector<RunResult> results = RunAll(commands);
  for (size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(results[i].exit_code, 0) << Describe(commands[i], results[i]);
    EXPECT_EQ(results[i].out, ours[i]) << Describe(commands[i], results[i]);
  }
}

TEST_F(CastOracle, ChecksumsMatchToCheckSumAddress) {
  const uint64_t seed = Seed() + 3;
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed - 3, ")"));
  Gen gen(seed);
  std::vector<Address> addrs;
  std::vector<std::vector<std::string>> commands;
  for (int i = 0; i < 100; ++i) {
    addrs.push_back(gen.RandomAddress());
    commands.push_back({cast_, "to-check-sum-address", addrs.back().Hex()});
  }
  const std::vector<RunResult> results = RunAll(commands);
  for (size_t i = 0; i < addrs.size(); ++i) {
    ASSERT_EQ(results[i].exit_code, 0) << Describe(commands[i], results[i]);
    EXPECT_EQ(results[i].out, addrs[i].Checksummed());
    // cast's output parses back (mixed case validates) to the same address.
    absl::StatusOr<Address> parsed = Address::Parse(results[i].out);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, addrs[i]);
  }
}

TEST_F(CastOracle, PersonalSignMatchesWalletSign) {
  const uint64_t seed = Seed() + 4;
  SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with CAST_ORACLE_SEED=", seed - 4, ")"));
  Gen gen(seed);
  std::vector<std::array<uint8_t, 65>> ours;
  std::vector<std::vector<std::string>> commands;
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789.,:-";
  for (int i = 0; i < 30; ++i) {
    const Bytes secret = gen.Secret();
    Bytes message;
    std::string arg;
    if (i % 3 == 0) {
      // cast wallet sign decodes a 0x-prefixed argument and signs the bytes.
      message = gen.RandomBytes(1 + gen.Below(100));
      arg = ToHex(message);
    } else {
      const size_t n = 1 + gen.Below(200);
      for (size_t k = 0; k < n; ++k) arg.push_back(kAlphabet[gen.Below(sizeof(kAlphabet) - 1)]);
      // Neither a hex literal nor something cast's parser would take for a flag.
      if (arg[0] == '-' || arg.rfind("0x", 0) == 0) arg[0] = 'z';
      message.assign(arg.begin(), arg.end());
    }
    ours.push_back(*SignPersonalMessage(secret, message));
    commands.push_back({cast_, "wallet", "sign", "--private-key", ToHex(secret), arg});
  }
  const std::vector<RunResult> results = RunAll(commands);
  for (size_t i = 0; i < ours.size(); ++i) {
    ASSERT_EQ(results[i].exit_code, 0) << Describe(commands[i], results[i]);
    EXPECT_EQ(results[i].out, ToHex(ours[i])) << Describe(commands[i], results[i]);
  }
}

}  // namespace
}  // namespace chain
