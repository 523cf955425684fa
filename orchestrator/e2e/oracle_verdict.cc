#include "orchestrator/e2e/oracle_verdict.h"

#include <set>

#include <boost/json.hpp>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "test/oracle/cvm_oracle.h"

namespace orchestrator::e2e {

namespace json = boost::json;

void ExpectIndependentVerdict(Stack& stack, const std::string& cvm_id, const std::string& want_hash,
                              const std::map<std::string, std::string>& want_env, const std::string& app) {
  absl::StatusOr<oracle::CvmView> v =
      oracle::InspectCvm(absl::StrCat("http://127.0.0.1:", stack.sim_port(), "/_sim"), cvm_id);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ("0x" + v->compose_hash, want_hash);
  EXPECT_EQ(v->stored_compose_hash, v->compose_hash);
  if (!app.empty()) EXPECT_GE(*stack.CountComposeHashAdded(app, v->compose_hash), 1) << "not allowed on chain";
  EXPECT_FALSE(v->public_key.empty());
  EXPECT_EQ(v->public_key, v->published_public_key);
  ASSERT_TRUE(v->env.has_value()) << "no encrypted_env stored";
  EXPECT_EQ(oracle::EnvMap(*v), want_env);
  std::set<std::string> allowed;
  for (const json::value& k : v->app_compose.at("allowed_envs").as_array()) allowed.insert(std::string(k.as_string()));
  for (const auto& [key, value] : *v->env) EXPECT_EQ(allowed.count(key), 1u) << key << " is not in allowed_envs";
}

}  // namespace orchestrator::e2e
