#include "signer/cli/records_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "chain/hex.h"
#include "signer/cli/records_jsonl.h"
#include "signer/cli/records_verify.h"

namespace signer::cli {
namespace {

using equivocation::KeyRecords;
using equivocation::Record;
using equivocation::RecordAdmin;
using equivocation::Watermark;

int Usage(std::FILE* err, absl::string_view why) {
  std::fprintf(err,
               "signer records: %s\n"
               "  signer records export [FILE|-]\n"
               "  signer records import FILE|-\n"
               "  signer records prune --chain_id=N --sender=0x... --confirmed_nonce=N --keep_depth=D\n"
               "  (the record: --anti_equivocation_db=PATH or --anti_equivocation_postgres_dsn_file=FILE, or "
               "--config)\n",
               std::string(why).c_str());
  return 2;
}

int Failed(std::FILE* err, absl::string_view what, const absl::Status& s) {
  std::fprintf(err, "signer records %s: %s\n", std::string(what).c_str(), std::string(s.message()).c_str());
  return 1;
}

std::unique_ptr<RecordAdmin> Open(const RecordsOptions& o, std::FILE* err) {
  absl::StatusOr<std::unique_ptr<RecordAdmin>> admin = o.open();
  if (admin.ok()) return *std::move(admin);
  std::fprintf(err, "signer records: cannot open the anti-equivocation record: %s\n",
               std::string(admin.status().message()).c_str());
  return nullptr;
}

absl::Status WriteExport(RecordAdmin& admin, const std::string& source, std::FILE* dest, uint64_t* lines) {
  std::fprintf(dest, "%s\n", HeaderLine(source, absl::Now()).c_str());
  absl::Status s = admin.ForEachRecord([&](const Record& r) {
    std::fprintf(dest, "%s\n", SignatureLine(r).c_str());
    ++*lines;
  });
  if (!s.ok()) return s;
  absl::StatusOr<std::vector<Watermark>> marks = admin.Watermarks();
  if (!marks.ok()) return marks.status();
  for (const Watermark& w : *marks) {
    std::fprintf(dest, "%s\n", WatermarkLine(w).c_str());
    ++*lines;
  }
  if (std::fflush(dest) != 0 || std::ferror(dest)) return absl::DataLossError("write failed");
  return absl::OkStatus();
}

int Export(const std::vector<std::string>& args, const RecordsOptions& o, std::FILE* out, std::FILE* err) {
  if (args.size() > 2) return Usage(err, "export takes at most one FILE");
  const std::string path = args.size() == 2 ? args[1] : "-";
  std::unique_ptr<RecordAdmin> admin = Open(o, err);
  if (admin == nullptr) return kRecordsExitCannotOpen;
  std::FILE* dest = out;
  if (path != "-") {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    dest = fd < 0 ? nullptr : ::fdopen(fd, "w");
    if (dest == nullptr) return Failed(err, "export", absl::NotFoundError(absl::StrCat(path, ": cannot create")));
  }
  uint64_t lines = 0;
  const absl::Status s = WriteExport(*admin, o.backend, dest, &lines);
  if (dest != out && std::fclose(dest) != 0) return Failed(err, "export", absl::DataLossError(path + ": close"));
  if (!s.ok()) return Failed(err, "export", s);
  std::fprintf(err, "signer records export: %llu lines after the header\n", static_cast<unsigned long long>(lines));
  return 0;
}

// One (chain, sender) of an import file.
struct KeyImport {
  KeyRecords key;
  std::vector<int> lines;  // the line of each record
  std::string refused;     // the first problem found in its lines
};
using KeyId = std::pair<uint64_t, std::string>;  // chain, sender bytes

KeyImport& KeyOf(std::map<KeyId, KeyImport>& keys, uint64_t chain_id, const chain::Address& sender) {
  KeyImport& k = keys[KeyId{chain_id, chain::ToHex(sender.bytes())}];
  k.key.chain_id = chain_id;
  k.key.sender = sender;
  return k;
}

// Reads every line. A line that is not a record at all stops the whole import (nothing is
// written); a record that fails verification refuses its key only.
absl::Status ReadImport(std::istream& in, std::map<KeyId, KeyImport>& keys) {
  std::string line;
  if (!std::getline(in, line)) return absl::InvalidArgumentError("line 1: empty file (a header line is required)");
  if (absl::Status s = ParseHeader(line); !s.ok())
    return absl::InvalidArgumentError(absl::StrCat("line 1: ", s.message()));
  for (int n = 2; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    absl::StatusOr<std::variant<Record, Watermark>> parsed = ParseLine(line);
    if (!parsed.ok()) return absl::InvalidArgumentError(absl::StrCat("line ", n, ": ", parsed.status().message()));
    if (const Watermark* w = std::get_if<Watermark>(&*parsed)) {
      KeyImport& k = KeyOf(keys, w->chain_id, w->sender);
      k.key.pruned_below = std::max(k.key.pruned_below.value_or(0), w->pruned_below);
      continue;
    }
    const Record& r = std::get<Record>(*parsed);
    KeyImport& k = KeyOf(keys, r.key.chain_id, r.key.sender);
    if (absl::Status s = VerifyRecord(r); !s.ok() && k.refused.empty()) {
      k.refused = absl::StrCat("line ", n, " (nonce ", r.key.nonce, " version ", r.slot_version, "): ", s.message());
    }
    k.key.records.push_back(r);
    k.lines.push_back(n);
  }
  if (in.bad()) return absl::DataLossError("read failed");
  return absl::OkStatus();
}

// Puts the key's records in (nonce, slot_version) order and checks each slot's versions.
absl::Status OrderAndCheck(KeyImport& k) {
  std::vector<size_t> order(k.key.records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto rank = [&](size_t i) { return std::make_pair(k.key.records[i].key.nonce, k.key.records[i].slot_version); };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return rank(a) < rank(b); });
  std::vector<Record> sorted;
  for (size_t i = 0; i < order.size(); ++i) {
    if (i > 0 && rank(order[i]) == rank(order[i - 1])) {
      return absl::InvalidArgumentError(absl::StrCat("lines ", k.lines[order[i - 1]], " and ", k.lines[order[i]],
                                                     ": the same nonce and slot_version twice"));
    }
    sorted.push_back(k.key.records[order[i]]);
  }
  k.key.records = std::move(sorted);
  for (const std::vector<Record>& slot : equivocation::BySlot(k.key.records)) {
    if (absl::Status s = VerifySlot(slot); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("nonce ", slot.front().key.nonce, ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

// Merges one key; prints its outcome. False if it was refused.
bool ImportKey(RecordAdmin& admin, KeyImport& k, std::FILE* out, std::FILE* err) {
  const std::string who = absl::StrCat("chain ", k.key.chain_id, " key ", k.key.sender.Checksummed());
  absl::Status s = k.refused.empty() ? OrderAndCheck(k) : absl::InvalidArgumentError(k.refused);
  absl::StatusOr<equivocation::MergeResult> merged = s.ok() ? admin.Merge(k.key) : s;
  if (!merged.ok()) {
    std::fprintf(err, "signer records import: %s refused, nothing of it imported: %s\n", who.c_str(),
                 std::string(merged.status().message()).c_str());
    return false;
  }
  std::fprintf(out, "{\"chain_id\":\"%llu\",\"sender\":\"%s\",\"added\":%llu,\"present\":%llu}\n",
               static_cast<unsigned long long>(k.key.chain_id), k.key.sender.Checksummed().c_str(),
               static_cast<unsigned long long>(merged->added), static_cast<unsigned long long>(merged->present));
  return true;
}

int Import(const std::vector<std::string>& args, const RecordsOptions& o, std::FILE* out, std::FILE* err) {
  if (args.size() != 2) return Usage(err, "import takes one FILE (- for standard input)");
  std::ifstream file;
  if (args[1] != "-") {
    file.open(args[1], std::ios::binary);
    if (!file) return Failed(err, "import", absl::NotFoundError(absl::StrCat(args[1], ": cannot open")));
  }
  std::map<KeyId, KeyImport> keys;
  if (absl::Status s = ReadImport(args[1] == "-" ? std::cin : file, keys); !s.ok()) {
    return Failed(err, "import", absl::Status(s.code(), absl::StrCat(s.message(), "; nothing imported")));
  }
  std::unique_ptr<RecordAdmin> admin = Open(o, err);
  if (admin == nullptr) return kRecordsExitCannotOpen;
  bool all = true;
  for (auto& [id, k] : keys) all = ImportKey(*admin, k, out, err) && all;
  return all ? 0 : 1;
}

int Prune(const RecordsOptions& o, std::FILE* out, std::FILE* err) {
  if (!o.chain_id || o.sender.empty() || !o.confirmed_nonce || !o.keep_depth) {
    return Usage(err, "prune needs --chain_id, --sender, --confirmed_nonce and --keep_depth");
  }
  absl::StatusOr<chain::Address> sender = chain::Address::Parse(o.sender);
  if (!sender.ok()) return Usage(err, absl::StrCat("--sender: ", sender.status().message()));
  const uint64_t below = *o.confirmed_nonce > *o.keep_depth ? *o.confirmed_nonce - *o.keep_depth : 0;
  std::unique_ptr<RecordAdmin> admin = Open(o, err);
  if (admin == nullptr) return kRecordsExitCannotOpen;
  absl::StatusOr<equivocation::PruneResult> pruned = admin->Prune(*o.chain_id, *sender, below, o.keep_recent);
  if (!pruned.ok()) return Failed(err, "prune", pruned.status());
  std::fprintf(out, "{\"chain_id\":\"%llu\",\"sender\":\"%s\",\"pruned_below\":\"%llu\",\"deleted\":%llu}\n",
               static_cast<unsigned long long>(*o.chain_id), sender->Checksummed().c_str(),
               static_cast<unsigned long long>(pruned->pruned_below), static_cast<unsigned long long>(pruned->deleted));
  return 0;
}

}  // namespace

int RunRecordsCommand(const std::vector<std::string>& args, const RecordsOptions& options, std::FILE* out,
                      std::FILE* err) {
  if (args.empty()) return Usage(err, "a command is required");
  if (args[0] == "export") return Export(args, options, out, err);
  if (args[0] == "import") return Import(args, options, out, err);
  if (args[0] == "prune") {
    if (args.size() != 1) return Usage(err, "prune takes flags only");
    return Prune(options, out, err);
  }
  return Usage(err, absl::StrCat("unknown command \"", args[0], "\""));
}

}  // namespace signer::cli
