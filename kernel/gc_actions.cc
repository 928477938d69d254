#include "kernel/gc_actions.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <utility>

#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/key_schema.h"

namespace swingset {

namespace {

constexpr std::string_view kTypeNames[] = {"dropExport", "retireExport", "retireImport"};

// Splits "<vat> <type> <kref>" into its parts; CHECKs, since only the kernel writes actions.
void ParseAction(std::string_view a, std::string_view* vat, std::string_view* type,
                 std::string_view* kref) {
  size_t s1 = a.find(' ');
  size_t s2 = s1 == std::string_view::npos ? s1 : a.find(' ', s1 + 1);
  SWINGSET_CHECK(s2 != std::string_view::npos) << "corrupt gcAction " << std::string(a);
  *vat = a.substr(0, s1);
  *type = a.substr(s1 + 1, s2 - s1 - 1);
  *kref = a.substr(s2 + 1);
}

GcActionType ParseType(std::string_view t) {
  for (int i = 0; i < 3; ++i) {
    if (t == kTypeNames[i]) return static_cast<GcActionType>(i);
  }
  SWINGSET_CHECK(false) << "corrupt gcAction type " << std::string(t);
  return GcActionType::kDropExport;
}

}  // namespace

const char* GcActionTypeName(GcActionType t) {
  return kTypeNames[static_cast<int>(t)].data();
}

// ActionLess compares the types by enum value and the kref kinds by KindRank; both must follow
// the strings. No type name is a prefix of another, and each is followed by a space.
static_assert(kTypeNames[0] < kTypeNames[1] && kTypeNames[1] < kTypeNames[2]);
static_assert(static_cast<int>(GcActionType::kDropExport) == 0 &&
              static_cast<int>(GcActionType::kRetireExport) == 1 &&
              static_cast<int>(GcActionType::kRetireImport) == 2);

namespace {

// Writes n in decimal at p; returns the end.
char* WriteDecimal(uint64_t n, char* p) {
  char* end = p + DecimalDigits(n);
  WriteDigitsBefore(end, n);
  return end;
}

}  // namespace

void GcActionSet::AppendAction(const Action& a, std::string* out) {
  // The same text as StrCat(VatId(a.vat).ToString(), " ", GcActionTypeName(a.type), " ",
  // Kref(a.kind, a.kref_n).ToString()), at most 1+20+1+12+1+2+20 bytes.
  char buf[64];
  char* p = buf;
  *p++ = 'v';
  p = WriteDecimal(a.vat, p);
  *p++ = ' ';
  std::string_view type = kTypeNames[static_cast<int>(a.type)];
  p = std::copy(type.begin(), type.end(), p);
  *p++ = ' ';
  *p++ = 'k';
  *p++ = a.kind == KrefKind::kObject ? 'o' : a.kind == KrefKind::kPromise ? 'p' : 'd';
  p = WriteDecimal(a.kref_n, p);
  out->append(buf, p - buf);
}

GcActionSet::ActionTree& GcActionSet::Actions() {
  if (loaded_) return actions_;
  actions_.clear();
  const std::string* v = buf_->Find(keys::kGcActions);
  if (v && *v != "[]") {
    auto j = Json::Parse(*v);
    SWINGSET_CHECK(j.ok() && j->is_array()) << "corrupt gcActions";
    for (const Json& e : j->as_array()) {
      SWINGSET_CHECK(e.is_string()) << "corrupt gcActions entry";
      std::string_view vat, type, kref;
      ParseAction(e.as_string(), &vat, &type, &kref);
      auto vat_id = VatId::Parse(vat);
      SWINGSET_CHECK(vat_id.ok()) << "corrupt gcAction vat " << e.as_string();
      auto k = Kref::Parse(kref);
      SWINGSET_CHECK(k.ok()) << "corrupt gcAction kref " << e.as_string();
      // The parsers accept only canonical text, so the action prints back as it was stored.
      actions_.insert(Action{vat_id->n(), k->n(), ParseType(type), k->kind()});
    }
  }
  loaded_ = true;
  dirty_ = false;
  return actions_;
}

void GcActionSet::Add(VatId vat, GcActionType type, const Kref& k) {
  if (Actions().insert(Action{vat.n(), k.n(), type, k.kind()}).second) dirty_ = true;
}

bool GcActionSet::TakeFirstGroup(Group* group) {
  ActionTree& actions = Actions();
  if (actions.empty()) return false;
  const Action first = *actions.begin();
  group->vat = VatId(first.vat);
  group->type = first.type;
  group->krefs.clear();
  // The group is the run of actions with the first one's vat and type.
  auto it = actions.begin();
  for (; it != actions.end() && it->vat == first.vat && it->type == first.type; ++it) {
    group->krefs.push_back(Kref(it->kind, it->kref_n));
  }
  actions.erase(actions.begin(), it);
  dirty_ = true;
  return true;
}

std::vector<std::string> GcActionSet::List() {
  const ActionTree& actions = Actions();
  std::vector<std::string> out;
  out.reserve(actions.size());
  for (const Action& a : actions) {
    std::string s;
    AppendAction(a, &s);
    out.push_back(std::move(s));
  }
  return out;
}

void GcActionSet::Flush() {
  if (!loaded_ || !dirty_) return;
  // The same bytes as Json::Dump of the array of strings. An action's string is 'v', digits,
  // spaces, ASCII letters and digits, none of which AppendJsonString escapes, so each is
  // written between quotes as is.
  std::string text;
  // Room for the typical action ("v1 retireExport ko123456" and the quotes and comma).
  text.reserve(2 + actions_.size() * 32);
  text.push_back('[');
  bool first = true;
  for (const Action& a : actions_) {
    text.append(first ? "\"" : ",\"");
    first = false;
    AppendAction(a, &text);
    text.push_back('"');
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
