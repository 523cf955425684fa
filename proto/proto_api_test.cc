// Checks the API's .proto files against the conventions in proto/README.md: every element
// carries a comment for users of other languages, enums start
// with *_UNSPECIFIED = 0, names follow the style, the language options are set, and the two
// packages do not depend on each other.
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor.pb.h"
#include "gtest/gtest.h"
#include "onchainkms/orchestrator/v1/config.pb.h"
#include "onchainkms/orchestrator/v1/orchestrator.pb.h"
#include "onchainkms/signer/v1/config.pb.h"
#include "onchainkms/signer/v1/policy.pb.h"
#include "onchainkms/signer/v1/signer.pb.h"

namespace {

namespace pb = google::protobuf;

constexpr const char* kApiFiles[] = {
    "onchainkms/signer/v1/signer.proto",       "onchainkms/signer/v1/policy.proto",
    "onchainkms/signer/v1/config.proto",       "onchainkms/orchestrator/v1/orchestrator.proto",
    "onchainkms/orchestrator/v1/config.proto",
};

// A file of the test's runfiles, by its path in the workspace.
std::string RunfilePath(const std::string& path) {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir ? srcdir : ".", "/", workspace ? workspace : "onchain_kms", "/", path);
}

// The descriptor set protoc wrote from the sources, with their comments (//proto:api_descriptor_set).
std::string DescriptorSetPath() { return RunfilePath("proto/api_descriptor_set.pb"); }

// The module path of the Go client module (the `module` line of clients/go/go.mod).
std::string GoModulePath() {
  std::ifstream in(RunfilePath("clients/go/go.mod"));
  std::string line;
  while (std::getline(in, line)) {
    if (absl::StartsWith(line, "module ")) return std::string(absl::StripAsciiWhitespace(line.substr(7)));
  }
  return "";
}

bool IsSnakeCase(const std::string& s) {
  if (s.empty() || !absl::ascii_islower(s[0])) return false;
  for (char c : s) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_')) return false;
  }
  return !absl::StrContains(s, "__") && s.back() != '_';
}

bool IsUpperCamel(const std::string& s) {
  if (s.empty() || !absl::ascii_isupper(s[0])) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(c)) return false;
  }
  return true;
}

// "OperationState" -> "OPERATION_STATE"
std::string UpperSnake(const std::string& camel) {
  std::string out;
  for (size_t i = 0; i < camel.size(); ++i) {
    if (i > 0 && absl::ascii_isupper(camel[i])) out += '_';
    out += absl::ascii_toupper(camel[i]);
  }
  return out;
}

class ProtoApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ifstream in(DescriptorSetPath(), std::ios::binary);
    ASSERT_TRUE(in) << DescriptorSetPath();
    pb::FileDescriptorSet set;
    ASSERT_TRUE(set.ParseFromIstream(&in));
    for (const pb::FileDescriptorProto& f : set.file()) {  // dependencies come first
      ASSERT_NE(pool_.BuildFile(f), nullptr) << f.name();
    }
    for (const char* name : kApiFiles) {
      const pb::FileDescriptor* file = pool_.FindFileByName(name);
      ASSERT_NE(file, nullptr) << name;
      files_.push_back(file);
    }
  }

  template <typename D>
  void ExpectCommented(const D* d, std::vector<std::string>* missing) {
    pb::SourceLocation loc;
    if (!d->GetSourceLocation(&loc) || (absl::StripAsciiWhitespace(loc.leading_comments).empty() &&
                                        absl::StripAsciiWhitespace(loc.trailing_comments).empty())) {
      missing->push_back(d->full_name());
    }
  }

  void CheckEnum(const pb::EnumDescriptor* e, std::vector<std::string>* problems) {
    ExpectCommented(e, problems);
    // A nested enum's values are prefixed by its own name ("TYPE_"), a top-level one's by its
    // full upper-snake name ("OPERATION_STATE_").
    const std::string prefix = UpperSnake(e->name()) + "_";
    const pb::EnumValueDescriptor* zero = e->FindValueByNumber(0);
    if (zero == nullptr || zero->name() != prefix + "UNSPECIFIED" || e->value(0) != zero) {
      problems->push_back(absl::StrCat(e->full_name(), ": first value must be ", prefix, "UNSPECIFIED = 0"));
    }
    for (int i = 0; i < e->value_count(); ++i) {
      const pb::EnumValueDescriptor* v = e->value(i);
      if (!absl::StartsWith(v->name(), prefix)) {
        problems->push_back(absl::StrCat(v->full_name(), ": must start with ", prefix));
      }
      if (v->number() != 0) ExpectCommented(v, problems);
    }
  }

  void CheckMessage(const pb::Descriptor* m, std::vector<std::string>* problems) {
    ExpectCommented(m, problems);
    if (!IsUpperCamel(m->name())) problems->push_back(m->full_name() + ": not UpperCamelCase");
    for (int i = 0; i < m->field_count(); ++i) {
      const pb::FieldDescriptor* f = m->field(i);
      ExpectCommented(f, problems);
      if (!IsSnakeCase(f->name())) problems->push_back(f->full_name() + ": not snake_case");
      if (f->type() == pb::FieldDescriptor::TYPE_BYTES) {
        problems->push_back(f->full_name() + ": use a 0x-hex string, not bytes (README)");
      }
      if (f->type() == pb::FieldDescriptor::TYPE_DOUBLE && !absl::StrContains(f->name(), "per_second")) {
        problems->push_back(f->full_name() + ": floating point only for rates");
      }
      // Wei amounts are decimal strings.
      if (absl::EndsWith(f->name(), "_wei") && f->type() != pb::FieldDescriptor::TYPE_STRING) {
        problems->push_back(f->full_name() + ": wei amounts are decimal strings");
      }
    }
    for (int i = 0; i < m->enum_type_count(); ++i) CheckEnum(m->enum_type(i), problems);
    for (int i = 0; i < m->nested_type_count(); ++i) CheckMessage(m->nested_type(i), problems);
  }

  pb::DescriptorPool pool_;
  std::vector<const pb::FileDescriptor*> files_;
};

TEST_F(ProtoApiTest, EveryElementIsCommentedAndWellNamed) {
  std::vector<std::string> problems;
  for (const pb::FileDescriptor* file : files_) {
    for (int i = 0; i < file->message_type_count(); ++i) CheckMessage(file->message_type(i), &problems);
    for (int i = 0; i < file->enum_type_count(); ++i) CheckEnum(file->enum_type(i), &problems);
    for (int i = 0; i < file->service_count(); ++i) {
      const pb::ServiceDescriptor* s = file->service(i);
      ExpectCommented(s, &problems);
      for (int j = 0; j < s->method_count(); ++j) {
        const pb::MethodDescriptor* m = s->method(j);
        ExpectCommented(m, &problems);
        if (!IsUpperCamel(m->name())) problems.push_back(m->full_name() + ": not VerbNoun");
      }
    }
  }
  EXPECT_THAT(problems, ::testing::IsEmpty()) << absl::StrJoin(problems, "\n");
}

TEST_F(ProtoApiTest, LanguageOptionsAreSet) {
  for (const pb::FileDescriptor* file : files_) {
    const pb::FileOptions& o = file->options();
    EXPECT_TRUE(o.has_go_package()) << file->name();
    EXPECT_TRUE(o.has_java_package()) << file->name();
    EXPECT_TRUE(o.java_multiple_files()) << file->name();
    EXPECT_TRUE(o.has_csharp_namespace()) << file->name();
    EXPECT_EQ(file->syntax(), pb::FileDescriptor::SYNTAX_PROTO3) << file->name();
    EXPECT_THAT(file->package(), ::testing::MatchesRegex("onchainkms\\.(signer|orchestrator)\\.v1"));
  }
}

// go_package names where the generated Go code lives: in the clients/go module, at the .proto's
// own directory, as package <service>v1 (e.g. ".../onchainkms/signer/v1;signerv1").
TEST_F(ProtoApiTest, GoPackageIsInTheGoClientModule) {
  const std::string module = GoModulePath();
  ASSERT_FALSE(module.empty()) << "no module line in clients/go/go.mod";
  for (const pb::FileDescriptor* file : files_) {
    const std::string dir = file->name().substr(0, file->name().rfind('/'));            // onchainkms/signer/v1
    const std::string service = file->package().substr(file->package().find('.') + 1);  // signer.v1
    const std::string go_name = absl::StrCat(service.substr(0, service.find('.')), "v1");
    EXPECT_EQ(file->options().go_package(), absl::StrCat(module, "/", dir, ";", go_name)) << file->name();
  }
}

TEST_F(ProtoApiTest, PackagesAreIndependent) {
  for (const pb::FileDescriptor* file : files_) {
    const std::string own = file->package();
    for (int i = 0; i < file->dependency_count(); ++i) {
      const pb::FileDescriptor* dep = file->dependency(i);
      EXPECT_TRUE(dep->package() == own || absl::StartsWith(dep->package(), "google.protobuf"))
          << file->name() << " imports " << dep->name();
    }
  }
}

void ClearJsonNames(pb::DescriptorProto* m) {
  for (pb::FieldDescriptorProto& f : *m->mutable_field()) f.clear_json_name();
  for (pb::DescriptorProto& n : *m->mutable_nested_type()) ClearJsonNames(&n);
}

TEST_F(ProtoApiTest, ParsedFilesMatchTheCompiledOnes) {
  // The descriptors compiled into C++ (what reflection serves) equal the parsed sources.
  const pb::FileDescriptor* compiled[] = {
      onchainkms::signer::v1::Key::descriptor()->file(),
      onchainkms::signer::v1::Policy::descriptor()->file(),
      onchainkms::signer::v1::SignerConfig::descriptor()->file(),
      onchainkms::orchestrator::v1::Operation::descriptor()->file(),
      onchainkms::orchestrator::v1::OrchestratorConfig::descriptor()->file(),
  };
  for (size_t i = 0; i < files_.size(); ++i) {
    pb::FileDescriptorProto a, b;
    files_[i]->CopyTo(&a);
    compiled[i]->CopyTo(&b);
    // protoc fills in json_name in one form and not the other; it is derived data anyway.
    for (pb::FileDescriptorProto* f : {&a, &b}) {
      for (pb::DescriptorProto& m : *f->mutable_message_type()) ClearJsonNames(&m);
    }
    EXPECT_TRUE(a.SerializeAsString() == b.SerializeAsString()) << files_[i]->name();
  }
}

TEST(ProtoApi, ServicesHaveTheAgreedMethods) {
  auto methods = [](const pb::ServiceDescriptor* s) {
    std::set<std::string> out;
    for (int i = 0; i < s->method_count(); ++i) out.insert(s->method(i)->name());
    return out;
  };
  EXPECT_THAT(methods(onchainkms::signer::v1::Key::descriptor()->file()->FindServiceByName("Signer")),
              ::testing::UnorderedElementsAre("ListKeys", "GetKey", "SignDeployAndRegisterApp", "SignAddComposeHash",
                                              "SignAppCall", "SignTransaction", "SignMessage", "SignBatch"));
  const pb::ServiceDescriptor* orch =
      onchainkms::orchestrator::v1::Operation::descriptor()->file()->FindServiceByName("Orchestrator");
  ASSERT_NE(orch, nullptr);
  EXPECT_THAT(methods(orch),
              ::testing::UnorderedElementsAre("ListKmsInstances", "DeployCvm", "UpdateEnvVars", "UpdateDockerCompose",
                                              "UpdateComposeFile", "AddComposeHash", "SupplyEnvVars", "GetOperation",
                                              "ListOperations", "WatchOperation", "CancelOperation", "AdoptResource",
                                              "UpdateAppContract", "GetAppState", "SubmitOwnerTransaction", "GetCvm",
                                              "ListCvms", "ListNodes"));
  EXPECT_TRUE(orch->FindMethodByName("WatchOperation")->server_streaming());
  // Every mutating orchestrator call carries a request_id.
  for (const char* name : {"DeployCvm", "UpdateEnvVars", "UpdateDockerCompose", "UpdateComposeFile", "AddComposeHash",
                           "SupplyEnvVars", "UpdateAppContract", "SubmitOwnerTransaction"}) {
    EXPECT_NE(orch->FindMethodByName(name)->input_type()->FindFieldByName("request_id"), nullptr) << name;
  }
  // So does every signing call of the signer (for the audit log); in a SignBatch, every item.
  const pb::ServiceDescriptor* signer = onchainkms::signer::v1::Key::descriptor()->file()->FindServiceByName("Signer");
  for (int i = 0; i < signer->method_count(); ++i) {
    const pb::MethodDescriptor* m = signer->method(i);
    if (m->name() == "SignBatch") {
      const pb::Descriptor* item = onchainkms::signer::v1::SignBatchItem::descriptor();
      for (int f = 0; f < item->field_count(); ++f) {
        ASSERT_NE(item->field(f)->message_type(), nullptr) << item->field(f)->name();
        EXPECT_NE(item->field(f)->message_type()->FindFieldByName("request_id"), nullptr) << item->field(f)->name();
      }
    } else if (absl::StartsWith(m->name(), "Sign")) {
      EXPECT_NE(m->input_type()->FindFieldByName("request_id"), nullptr) << m->name();
    }
  }
}

}  // namespace
