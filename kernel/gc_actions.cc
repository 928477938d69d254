#include "kernel/gc_actions.h"

#include <string_view>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/key_schema.h"
#include "kernel/strings.h"

namespace swingset {

namespace {

constexpr std::string_view kTypeNames[] = {"dropExport", "retireExport", "retireImport"};

// Splits "<vat> <type> <kref>" into its parts; CHECKs, since only the kernel writes actions.
void ParseAction(std::string_view a, std::string_view* vat, std::string_view* type,
                 std::string_view* kref) {
  size_t s1 = a.find(' ');
  size_t s2 = s1 == std::string_view::npos ? s1 : a.find(' ', s1 + 1);
  CHECK(s2 != std::string_view::npos) << "corrupt gcAction " << std::string(a);
  *vat = a.substr(0, s1);
  *type = a.substr(s1 + 1, s2 - s1 - 1);
  *kref = a.substr(s2 + 1);
}

GcActionType ParseType(std::string_view t) {
  for (int i = 0; i < 3; ++i) {
    if (t == kTypeNames[i]) return static_cast<GcActionType>(i);
  }
  CHECK(false) << "corrupt gcAction type " << std::string(t);
  return GcActionType::kDropExport;
}

}  // namespace

const char* GcActionTypeName(GcActionType t) {
  return kTypeNames[static_cast<int>(t)].data();
}

absl::btree_set<std::string>& GcActionSet::Actions() {
  if (loaded_) return actions_;
  actions_.clear();
  const std::string* v = buf_->Find(keys::kGcActions);
  if (v && *v != "[]") {
    auto j = Json::Parse(*v);
    CHECK(j.ok() && j->is_array()) << "corrupt gcActions";
    for (const Json& e : j->as_array()) {
      CHECK(e.is_string()) << "corrupt gcActions entry";
      actions_.insert(e.as_string());
    }
  }
  loaded_ = true;
  dirty_ = false;
  return actions_;
}

void GcActionSet::Add(VatId vat, GcActionType type, const Kref& k) {
  if (Actions().insert(StrCat(vat.ToString(), " ", GcActionTypeName(type), " ", k.ToString()))
          .second) {
    dirty_ = true;
  }
}

bool GcActionSet::TakeFirstGroup(Group* group) {
  absl::btree_set<std::string>& actions = Actions();
  if (actions.empty()) return false;
  std::string_view vat, type, kref;
  ParseAction(*actions.begin(), &vat, &type, &kref);
  auto vat_id = VatId::Parse(vat);
  CHECK(vat_id.ok()) << "corrupt gcAction vat " << std::string(vat);
  group->vat = *vat_id;
  group->type = ParseType(type);
  group->krefs.clear();
  // "<vat> <type> ": every action of the group, and nothing else, starts with it.
  const std::string prefix = actions.begin()->substr(0, vat.size() + type.size() + 2);
  auto it = actions.begin();
  for (; it != actions.end() && std::string_view(*it).substr(0, prefix.size()) == prefix; ++it) {
    auto k = Kref::Parse(std::string_view(*it).substr(prefix.size()));
    CHECK(k.ok()) << "corrupt gcAction " << *it;
    group->krefs.push_back(*k);
  }
  actions.erase(actions.begin(), it);
  dirty_ = true;
  return true;
}

std::vector<std::string> GcActionSet::List() {
  const absl::btree_set<std::string>& actions = Actions();
  return std::vector<std::string>(actions.begin(), actions.end());
}

void GcActionSet::Flush() {
  if (!loaded_ || !dirty_) return;
  // The same bytes as Json::Dump of the array of strings.
  std::string text = "[";
  bool first = true;
  for (const std::string& a : actions_) {
    if (!first) text.push_back(',');
    first = false;
    AppendJsonString(a, &text);
  }
  text.push_back(']');
  buf_->Set(keys::kGcActions, text);
  dirty_ = false;
}

void GcActionSet::Invalidate() {
  loaded_ = false;
  dirty_ = false;
  actions_.clear();
}

}  // namespace swingset
