// SqliteJournal: the owners of CVMs and apps (journal.h, resource_owner.h). Calls are serialized
// on the journal's one connection, so a read followed by a write is atomic here.
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "orchestrator/journal/error_context.h"
#include "orchestrator/journal/sqlite_journal.h"
#include "platform/sqlite/statement.h"
#include "platform/status_macros.h"

namespace orchestrator::journal {

using platform::sqlite::CachedStatement;
using platform::sqlite::Statement;

namespace {

constexpr char kInsertOwner[] =
    "INSERT INTO resource_owners (kind, resource, tenant, source, created_at_us) VALUES (?1, ?2, ?3, ?4, ?5)";

// kInsertOwner for `n` rows: ?1..?5, ?6..?10, ...
std::string OwnerRows(size_t n) {
  std::string sql = kInsertOwner;
  for (size_t i = 1; i < n; ++i) {
    absl::StrAppend(&sql, ", (?", 5 * i + 1, ", ?", 5 * i + 2, ", ?", 5 * i + 3, ", ?", 5 * i + 4, ", ?", 5 * i + 5,
                    ")");
  }
  return sql;
}

// Binds `owner` to ?first .. ?first+4.
void BindOwner(Statement& st, const ResourceOwner& owner, int first = 1) {
  st.BindText(first, owner.kind)
      .BindText(first + 1, owner.resource)
      .BindText(first + 2, owner.tenant)
      .BindText(first + 3, owner.source)
      .BindInt(first + 4, absl::ToUnixMicros(owner.created_at));
}

absl::Status OwnedByAnother(const ResourceOwner& owner) {
  return absl::AlreadyExistsError(
      absl::StrCat("journal: ", owner.kind, " ", owner.resource, " is owned by another tenant"));
}

}  // namespace

absl::StatusOr<std::optional<ResourceOwner>> SqliteJournal::FindOwnerLocked(absl::string_view kind,
                                                                            absl::string_view resource) {
  ASSIGN_OR_RETURN(CachedStatement st,
                   Context(db_->PrepareCached("SELECT tenant, source, created_at_us FROM resource_owners "
                                              "WHERE kind = ?1 AND resource = ?2"),
                           "find owner"));
  st->BindText(1, kind).BindText(2, resource);
  ASSIGN_OR_RETURN(bool row, Context(st->Step(), "find owner"));
  if (!row) return std::optional<ResourceOwner>();
  return std::optional<ResourceOwner>(ResourceOwner{std::string(kind), std::string(resource), st->ColumnText(0),
                                                    st->ColumnText(1), absl::FromUnixMicros(st->ColumnInt(2))});
}

absl::StatusOr<std::optional<ResourceOwner>> SqliteJournal::FindOwner(absl::string_view kind,
                                                                      absl::string_view resource) {
  absl::MutexLock l(&mu_);
  return FindOwnerLocked(kind, resource);
}

absl::Status SqliteJournal::RecordOwner(const ResourceOwner& owner) {
  return Batched<bool>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
           RETURN_IF_ERROR(RecordOwnerLocked(owner));
           return true;
         })
      .status();
}

absl::Status SqliteJournal::RecordOwnerLocked(const ResourceOwner& owner) {
  ASSIGN_OR_RETURN(std::optional<ResourceOwner> stored, FindOwnerLocked(owner.kind, owner.resource));
  if (stored.has_value()) return stored->tenant == owner.tenant ? absl::OkStatus() : OwnedByAnother(owner);
  ASSIGN_OR_RETURN(CachedStatement ins, Context(db_->PrepareCached(kInsertOwner), "record owner"));
  BindOwner(*ins, owner);
  return Context(ins->Run(), "record owner");
}

absl::Status SqliteJournal::RecordOwners(const std::vector<ResourceOwner>& owners) {
  return Batched<bool>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> absl::StatusOr<bool> {
           RETURN_IF_ERROR(RecordOwnersLocked(owners));
           return true;
         })
      .status();
}

absl::Status SqliteJournal::RecordOwnersLocked(const std::vector<ResourceOwner>& owners) {
  // Checked first and inserted by one statement, as GroupCommit requires of a write.
  std::vector<const ResourceOwner*> missing;
  for (const ResourceOwner& o : owners) {
    ASSIGN_OR_RETURN(std::optional<ResourceOwner> stored, FindOwnerLocked(o.kind, o.resource));
    for (const ResourceOwner* m : missing) {
      if (m->kind == o.kind && m->resource == o.resource) stored = *m;  // twice in `owners`
    }
    if (stored.has_value() && stored->tenant != o.tenant) return OwnedByAnother(o);
    if (!stored.has_value()) missing.push_back(&o);
  }
  if (missing.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(CachedStatement ins, Context(db_->PrepareCached(OwnerRows(missing.size())), "record owners"));
  for (size_t i = 0; i < missing.size(); ++i) BindOwner(*ins, *missing[i], static_cast<int>(5 * i + 1));
  return Context(ins->Run(), "record owners");
}

absl::Status SqliteJournal::InsertMissingOwnersLocked(const std::vector<ResourceOwner>& owners) {
  ASSIGN_OR_RETURN(
      CachedStatement ins,
      Context(db_->PrepareCached(absl::StrCat(OwnerRows(owners.size()), " ON CONFLICT (kind, resource) DO NOTHING")),
              "record owners"));
  for (size_t i = 0; i < owners.size(); ++i) BindOwner(*ins, owners[i], static_cast<int>(5 * i + 1));
  return Context(ins->Run(), "record owners");
}

absl::StatusOr<AdoptResult> SqliteJournal::AdoptResource(const ResourceOwner& owner) {
  return Batched<AdoptResult>([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return AdoptResourceLocked(owner); });
}

absl::StatusOr<AdoptResult> SqliteJournal::AdoptResourceLocked(const ResourceOwner& owner) {
  AdoptResult out{owner, std::nullopt};
  ASSIGN_OR_RETURN(out.previous, FindOwnerLocked(owner.kind, owner.resource));
  ASSIGN_OR_RETURN(Statement up, Context(db_->Prepare(absl::StrCat(kInsertOwner,
                                                                   " ON CONFLICT (kind, resource) DO UPDATE SET "
                                                                   "tenant = excluded.tenant, source = "
                                                                   "excluded.source, created_at_us = "
                                                                   "excluded.created_at_us")),
                                         "adopt"));
  BindOwner(up, owner);
  RETURN_IF_ERROR(Context(up.Run(), "adopt"));
  return out;
}

}  // namespace orchestrator::journal
