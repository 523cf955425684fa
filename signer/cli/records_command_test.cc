// `signer records export | import | prune` on both backends (a real SQLite file and a real
// PostgreSQL 15), with really signed transactions: the round trip SQLite -> PostgreSQL -> SQLite
// is byte-equal, an import never replaces or contradicts a stored record and refuses a record
// its bytes do not prove, and pruning deletes only old records below the watermark while the
// signer refuses every unrecorded nonce below it.
#include "signer/cli/records_command.h"

#include <gtest/gtest.h>
#include <stdio.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "chain/hex.h"
#include "chain/transaction.h"
#include "gmock/gmock.h"
#include "platform/postgres/shared_server.h"
#include "platform/testing/server_process.h"
#include "signer/cli/records_jsonl.h"
#include "signer/equivocation/postgres_store.h"
#include "signer/equivocation/sqlite_store.h"

namespace signer::cli {
namespace {

using equivocation::Candidate;
using equivocation::NonceUse;
using equivocation::Record;
using equivocation::RecordAdmin;
using equivocation::Store;
using equivocation::Verdict;
using ::testing::HasSubstr;

constexpr char kKeyA[] = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";  // anvil #0
constexpr char kKeyB[] = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";  // anvil #1
const chain::Address kTo = *chain::Address::Parse("0xa16E02E87b7454126E5E10d957A927A7F5B5d2be");

// A record exactly as the engine would make it: the transaction really signed by `key`.
Record Signed(const char* key, uint64_t chain_id, uint64_t nonce, uint64_t fee, uint8_t payload, uint32_t version = 1,
              std::optional<chain::Hash32> replaced = std::nullopt, absl::Time at = absl::Now()) {
  chain::Eip1559Transaction tx;
  tx.chain_id = chain_id;
  tx.nonce = nonce;
  tx.max_fee_per_gas = chain::U256(fee);
  tx.max_priority_fee_per_gas = chain::U256(fee / 1000);
  tx.gas_limit = 60000;
  tx.to = kTo;
  tx.data = {0xdf, 0xc7, 0x72, 0x23, payload};
  absl::StatusOr<chain::SignedTransaction> s = chain::SignEip1559(*chain::FromHex(key), tx);
  EXPECT_TRUE(s.ok()) << s.status();
  Record r;
  r.key = {chain_id, s->from, nonce};
  r.signing_hash = tx.SigningHash();
  r.to = kTo;
  r.data = tx.data;
  r.gas_limit = tx.gas_limit;
  r.max_fee_per_gas = tx.max_fee_per_gas;
  r.max_priority_fee_per_gas = tx.max_priority_fee_per_gas;
  r.raw = s->raw;
  r.tx_hash = s->hash;
  r.nonce_use = version == 1 ? NonceUse::kFirst : NonceUse::kFeeBump;
  r.slot_version = version;
  r.replaced_tx_hash = replaced;
  r.budget_charge = chain::U256(60000 * fee);
  r.signed_at = absl::FromUnixMicros(absl::ToUnixMicros(at) / 1000 * 1000);  // SQLite keeps milliseconds
  return r;
}

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Everything after the header line (which names the source and the time).
std::string Body(const std::string& jsonl) { return jsonl.substr(jsonl.find('\n') + 1); }

// One record store of either backend, opened afresh for each use (as the tool does).
class Target {
 public:
  static Target Sqlite(const std::string& path) { return Target("sqlite", path, std::nullopt); }
  static Target Postgres(const std::string& name) {
    const std::string db =
        absl::AsciiStrToLower(absl::StrCat(::testing::UnitTest::GetInstance()->current_test_info()->name(), "_", name));
    const std::string file = *platform::postgres::SharedServer().CreateDatabase(db);
    const platform::postgres::Dsn dsn = *platform::postgres::Dsn::FromFile(file);
    EXPECT_TRUE(platform::postgres::Connect(dsn)
                    ->Exec(absl::StrCat("ALTER DATABASE ", db, " SET synchronous_commit = on"))
                    .ok());
    return Target("postgres", "", dsn);
  }

  std::unique_ptr<Store> OpenStore() const {
    if (dsn_.has_value()) return *equivocation::PostgresStore::Open(*dsn_);
    return *equivocation::SqliteStore::Open(path_);
  }
  RecordAdmin& Admin(Store& store) const {
    if (dsn_.has_value()) return static_cast<equivocation::PostgresStore&>(store);
    return static_cast<equivocation::SqliteStore&>(store);
  }
  void Add(const std::vector<Record>& records) const {
    std::unique_ptr<Store> store = OpenStore();
    for (const Record& r : records) ASSERT_TRUE(store->RecordSync(r).ok()) << r.key.nonce;
  }

  // Runs `signer records ARGS` on this target; the exit code, what it printed in *out / *err.
  int Run(const std::vector<std::string>& args, std::string* out = nullptr, std::string* err = nullptr,
          RecordsOptions o = {}) const {
    o.backend = backend_;
    o.open = [this]() -> absl::StatusOr<std::unique_ptr<RecordAdmin>> {
      if (dsn_.has_value()) {
        absl::StatusOr<std::unique_ptr<equivocation::PostgresStore>> s = equivocation::PostgresStore::Open(*dsn_);
        if (!s.ok()) return s.status();
        return std::unique_ptr<RecordAdmin>(s->release());
      }
      absl::StatusOr<std::unique_ptr<equivocation::SqliteStore>> s = equivocation::SqliteStore::Open(path_);
      if (!s.ok()) return s.status();
      return std::unique_ptr<RecordAdmin>(s->release());
    };
    std::FILE* o_file = std::tmpfile();
    std::FILE* e_file = std::tmpfile();
    const int code = RunRecordsCommand(args, o, o_file, e_file);
    for (auto [f, s] : {std::pair{o_file, out}, std::pair{e_file, err}}) {
      std::rewind(f);
      std::string text;
      for (int c; (c = std::fgetc(f)) != EOF;) text.push_back(static_cast<char>(c));
      std::fclose(f);
      if (s != nullptr) *s = text;
      if (f == e_file && code != 0 && s == nullptr) ADD_FAILURE() << text;
    }
    return code;
  }
  std::string Export(const std::string& file) const {
    EXPECT_EQ(Run({"export", file}), 0);
    return Read(file);
  }

 private:
  Target(std::string backend, std::string path, std::optional<platform::postgres::Dsn> dsn)
      : backend_(std::move(backend)), path_(std::move(path)), dsn_(std::move(dsn)) {}
  std::string backend_, path_;
  std::optional<platform::postgres::Dsn> dsn_;
};

Verdict Classify(Store& store, const Candidate& c) {
  auto slot = store.Acquire(c.key);
  absl::StatusOr<Verdict> v = store.Classify(*slot, c);
  EXPECT_TRUE(v.ok()) << v.status();
  return *v;
}

// Two keys on two chains, bumps (versions 2 and 3), a watermark.
std::vector<Record> History() {
  std::vector<Record> h = {Signed(kKeyA, 8453, 0, 1000000, 1), Signed(kKeyA, 8453, 1, 1000000, 2)};
  h.push_back(Signed(kKeyA, 8453, 1, 1100000, 2, 2, h[1].tx_hash));
  h.push_back(Signed(kKeyA, 8453, 1, 1300000, 2, 3, h[2].tx_hash));
  h.push_back(Signed(kKeyA, 1, 7, 5000000, 3));
  h.push_back(Signed(kKeyB, 8453, 0, 1000000, 4));
  return h;
}

class RecordsCommandTest : public ::testing::Test {
 protected:
  platform::testing::ShortTempDir dir_;
  std::string File(const std::string& name) const { return dir_.path() + "/" + name; }
};

TEST_F(RecordsCommandTest, RoundTripSqlitePostgresSqliteIsByteEqual) {
  const Target first = Target::Sqlite(File("first.sqlite"));
  first.Add(History());
  std::string out;
  ASSERT_EQ(first.Run(
                {
                    "prune",
                },
                &out, nullptr,
                RecordsOptions{.chain_id = 8453,
                               .sender = History()[0].key.sender.Checksummed(),
                               .confirmed_nonce = 12,
                               .keep_depth = 10}),
            0);
  EXPECT_THAT(out, HasSubstr("\"pruned_below\":\"2\",\"deleted\":0")) << "recent records stay";
  const std::string from_sqlite = first.Export(File("a.jsonl"));
  EXPECT_THAT(from_sqlite, HasSubstr("\"format\":\"onchain-kms/anti-equivocation\",\"format_version\":\"1\""));
  EXPECT_THAT(from_sqlite, HasSubstr("\"source\":\"sqlite\""));
  EXPECT_THAT(from_sqlite, HasSubstr("{\"type\":\"watermark\",\"chain_id\":\"8453\""));

  const Target pg = Target::Postgres("pg");
  ASSERT_EQ(pg.Run({"import", File("a.jsonl")}, &out), 0);
  EXPECT_THAT(out, HasSubstr("\"added\":4,\"present\":0"));
  const std::string from_pg = pg.Export(File("b.jsonl"));
  EXPECT_THAT(from_pg, HasSubstr("\"source\":\"postgres\""));
  EXPECT_EQ(Body(from_pg), Body(from_sqlite));
  ASSERT_EQ(pg.Run({"import", File("a.jsonl")}, &out), 0) << "importing again changes nothing";
  EXPECT_THAT(out, HasSubstr("\"added\":0,\"present\":4"));
  EXPECT_EQ(Body(pg.Export(File("b2.jsonl"))), Body(from_sqlite));

  const Target second = Target::Sqlite(File("second.sqlite"));
  ASSERT_EQ(second.Run({"import", File("b.jsonl")}), 0);
  EXPECT_EQ(Body(second.Export(File("c.jsonl"))), Body(from_sqlite));

  // The imported record protects as the original did: the same payload again is a REPEAT of the
  // same bytes, another payload for a nonce is refused, the watermark refuses an unrecorded nonce.
  const std::vector<Record> h = History();
  for (const Target* t : {&pg, &second}) {
    std::unique_ptr<Store> store = t->OpenStore();
    Verdict repeat = Classify(*store, h[3]);
    ASSERT_EQ(repeat.kind, Verdict::Kind::kRepeat);
    EXPECT_EQ(repeat.repeat->raw, h[3].raw);
    EXPECT_EQ(Classify(*store, Signed(kKeyA, 8453, 0, 1000000, 9)).kind, Verdict::Kind::kConflict);
    // below the watermark (2) on chain 8453: nonces 0 and 1 are recorded; the watermark is for
    // unrecorded ones, e.g. after an import of a pruned record set
  }
}

TEST_F(RecordsCommandTest, AConflictingImportIsRefusedByNameAndChangesNothingOfThatKey) {
  for (const bool postgres : {false, true}) {
    SCOPED_TRACE(postgres ? "postgres" : "sqlite");
    const Target target = postgres ? Target::Postgres("target") : Target::Sqlite(File("target.sqlite"));
    const Record stored = Signed(kKeyA, 8453, 0, 1000000, 1);
    target.Add({stored});
    const std::string before = Body(target.Export(File("before.jsonl")));
    // The file: key A with another payload for nonce 0 (and a new nonce 1), key B clean.
    const Record other = Signed(kKeyA, 8453, 0, 1000000, 2);
    std::ofstream(File("in.jsonl")) << HeaderLine("sqlite", absl::Now()) << "\n"
                                    << SignatureLine(Signed(kKeyA, 8453, 1, 1000000, 3)) << "\n"
                                    << SignatureLine(other) << "\n"
                                    << SignatureLine(Signed(kKeyB, 8453, 0, 1000000, 4)) << "\n";
    std::string out, err;
    EXPECT_EQ(target.Run({"import", File("in.jsonl")}, &out, &err), 1);
    EXPECT_THAT(err, HasSubstr(absl::StrCat("chain 8453 key ", stored.key.sender.Checksummed(),
                                            " refused, nothing of it imported: chain 8453 key ",
                                            stored.key.sender.Checksummed(),
                                            " nonce 0 version 1: the record holds "
                                            "transaction ",
                                            stored.tx_hash.Hex(), ", the import has ", other.tx_hash.Hex())));
    EXPECT_THAT(out, HasSubstr("\"added\":1,\"present\":0")) << "key B is imported";
    std::unique_ptr<Store> store = target.OpenStore();
    EXPECT_EQ(store->RecordsFor({8453, stored.key.sender, 1})->size(), 0u) << "nothing of key A";
    EXPECT_EQ(store->RecordsFor({8453, stored.key.sender, 0})->front().raw, stored.raw);
    store.reset();
    EXPECT_NE(Body(target.Export(File("after.jsonl"))), before);  // key B added
  }
}

TEST_F(RecordsCommandTest, ImportVerifiesEverySignedTransaction) {
  const Target target = Target::Sqlite(File("t.sqlite"));
  const Record good = Signed(kKeyA, 8453, 0, 1000000, 1);
  auto import = [&](const std::vector<std::string>& lines, std::string* err) {
    std::ofstream f(File("in.jsonl"), std::ios::trunc);
    for (const std::string& l : lines) f << l << "\n";
    f.close();
    return target.Run({"import", File("in.jsonl")}, nullptr, err);
  };
  const std::string header = HeaderLine("sqlite", absl::Now());
  std::string err;
  // Each field the signed bytes prove, changed in the line: refused, naming the field.
  const std::string line = SignatureLine(good);
  for (const auto& [field, from, to] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"value", "\"value\":\"0\"", "\"value\":\"1\""},
           {"max_fee_per_gas", "\"max_fee_per_gas\":\"1000000\"", "\"max_fee_per_gas\":\"999999\""},
           {"nonce", "\"nonce\":\"0\"", "\"nonce\":\"3\""},
           {"tx_hash", good.tx_hash.Hex(), chain::Hash32().Hex()},
           {"signed by", good.key.sender.Checksummed(), Signed(kKeyB, 1, 0, 1, 1).key.sender.Checksummed()}}) {
    ASSERT_TRUE(absl::StrContains(line, from)) << field;
    EXPECT_EQ(import({header, absl::StrReplaceAll(line, {{from, to}})}, &err), 1) << field;
    EXPECT_THAT(err, HasSubstr(field));
    EXPECT_THAT(err, HasSubstr("line 2"));
  }
  // A bump that breaks the rules (+5%), a version gap: refused.
  const Record bad_bump = Signed(kKeyA, 8453, 0, 1050000, 1, 2, good.tx_hash);
  EXPECT_EQ(import({header, line, SignatureLine(bad_bump)}, &err), 1);
  EXPECT_THAT(err, HasSubstr("nonce 0: slot_version 2 is not a valid fee bump"));
  EXPECT_EQ(import({header, SignatureLine(Signed(kKeyA, 8453, 0, 1100000, 1, 2, good.tx_hash))}, &err), 1);
  EXPECT_THAT(err, HasSubstr("slot_version 2: expected 1"));
  // Not a record at all, or another format version: nothing is imported.
  EXPECT_EQ(import({header, SignatureLine(Signed(kKeyB, 8453, 0, 1000000, 4)), "{\"type\":\"signature\"}"}, &err), 1);
  EXPECT_THAT(err, HasSubstr("line 3: chain_id: missing or not a string; nothing imported"));
  EXPECT_EQ(import({absl::StrReplaceAll(header, {{"\"1\"", "\"2\""}}), line}, &err), 1);
  EXPECT_THAT(err, HasSubstr("line 1: format_version: 2 is not supported"));
  EXPECT_EQ(Body(target.Export(File("after.jsonl"))), "") << "nothing was ever imported";
  EXPECT_EQ(import({header, line}, &err), 0) << err;
}

TEST_F(RecordsCommandTest, PruneDeletesOldRecordsBelowTheWatermarkAndTheSignerRefusesUnrecordedNoncesThere) {
  for (const bool postgres : {false, true}) {
    SCOPED_TRACE(postgres ? "postgres" : "sqlite");
    const Target target = postgres ? Target::Postgres("prune") : Target::Sqlite(File("prune.sqlite"));
    std::vector<Record> records;
    for (uint64_t n = 0; n < 10; ++n) {
      records.push_back(Signed(kKeyA, 8453, n, 1000000, 1, 1, std::nullopt, absl::Now() - absl::Hours(48)));
    }
    records.push_back(Signed(kKeyA, 8453, 3, 1100000, 1, 2, records[3].tx_hash, absl::Now() - absl::Hours(1)));
    records.push_back(Signed(kKeyA, 1, 2, 1000000, 1, 1, std::nullopt, absl::Now() - absl::Hours(48)));
    target.Add(records);
    const std::string sender = records[0].key.sender.Checksummed();
    RecordsOptions o{.chain_id = 8453, .sender = sender, .confirmed_nonce = 10, .keep_depth = 3};
    std::string out, err;
    ASSERT_EQ(target.Run({"prune"}, &out, nullptr, o), 0);
    // Nonces 0..6 are below 7; nonce 3's bump is recent (the 24 h budget counts it), so it stays.
    EXPECT_EQ(out, absl::StrCat("{\"chain_id\":\"8453\",\"sender\":\"", sender,
                                "\",\"pruned_below\":\"7\",\"deleted\":7}\n"));
    o.confirmed_nonce = 5;
    ASSERT_EQ(target.Run({"prune"}, &out, nullptr, o), 0);
    EXPECT_THAT(out, HasSubstr("\"pruned_below\":\"7\",\"deleted\":0")) << "a watermark never goes down";

    std::unique_ptr<Store> store = target.OpenStore();  // as after a restart
    const Verdict below = Classify(*store, Signed(kKeyA, 8453, 5, 1000000, 1));
    ASSERT_EQ(below.kind, Verdict::Kind::kConflict) << "the pruned nonce is not reopened";
    EXPECT_THAT(std::string(below.conflict.message()), HasSubstr("below the pruned watermark 7"));
    EXPECT_EQ(Classify(*store, Signed(kKeyA, 8453, 3, 1100000, 1, 2)).kind, Verdict::Kind::kRepeat);
    EXPECT_EQ(Classify(*store, records[8]).kind, Verdict::Kind::kRepeat) << "kept above the watermark";
    EXPECT_EQ(Classify(*store, Signed(kKeyA, 8453, 11, 1000000, 1)).kind, Verdict::Kind::kFirst);
    EXPECT_EQ(Classify(*store, records[11]).kind, Verdict::Kind::kRepeat) << "another chain is untouched";
    EXPECT_EQ(Classify(*store, Signed(kKeyA, 1, 0, 1000000, 1)).kind, Verdict::Kind::kFirst);
    EXPECT_EQ(store->RecordsFor({8453, records[0].key.sender, 0})->size(), 0u);
    store.reset();
    EXPECT_EQ(target.Run({"prune"}, nullptr, &err, RecordsOptions{.chain_id = 8453, .sender = sender}), 2);
    EXPECT_THAT(err, HasSubstr("prune needs --chain_id, --sender, --confirmed_nonce and --keep_depth"));
  }
}

}  // namespace
}  // namespace signer::cli
