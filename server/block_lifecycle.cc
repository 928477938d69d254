#include "server/block_lifecycle.h"

#include <chrono>
#include <optional>
#include <set>
#include <utility>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "absl/strings/escaping.h"
#include "consensus/sha256.h"
#include "kernel/base.h"
#include "kernel/json.h"
#include "kernel/key_schema.h"
#include "kernel/smallcaps.h"
#include "kernel/strings.h"
#include "kernel/utf8.h"
#include "server/host_keys.h"
#include "server/log.h"
#include "server/mailbox_device.h"
#include "server/state_commitment.h"

namespace swingset {
namespace {

int64_t MicrosSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t)
      .count();
}


absl::Status Invalid(std::string message) { return absl::InvalidArgumentError(std::move(message)); }
absl::Status OutOfOrder(std::string message) {
  return absl::FailedPreconditionError(std::move(message));
}

bool IsValidVatName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// No control characters (method names end up in capdata and logs).
bool IsIdentifierLike(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string PendingPromisesJson(const std::vector<std::string>& kpids) {
  Json a = Json::MakeArray();
  for (const std::string& k : kpids) a.Push(Json(k));
  return a.Dump();
}

// A host key's committed value. A failed read means the store is broken: the process stops
// (docs/DESIGN.md §7) rather than answer from a state it cannot read.
std::optional<std::string> GetFrom(const KvStore& store, std::string_view key) {
  absl::StatusOr<std::optional<std::string>> v = store.Get(key);
  SWINGSET_CHECK_STORAGE(v.ok()) << "reading " << key << ": " << v.status().ToString();
  return *std::move(v);
}

// Bytes from the store or a request, safe for a status message.
std::string Printable(std::string_view bytes) { return absl::CHexEscape(ToAbsl(bytes)); }

// SHA-256 (hex) of the genesis as given, serialized deterministically (fields in number order):
// recorded at genesis, compared when a later Init passes a genesis again.
std::string GenesisHash(const v1::Genesis& g) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream out(&bytes);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    g.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes);
}
// A per-action error text: at most kMaxActionErrorBytes, cut at a UTF-8 character boundary.
std::string ActionError(std::string_view raw) {
  std::string text = ToValidUtf8(std::string(raw));
  std::string_view message = text;
  if (message.size() <= kMaxActionErrorBytes) return text;
  size_t n = kMaxActionErrorBytes;
  while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) --n;
  return std::string(message.substr(0, n));
}

uint64_t OrDefault(uint64_t value, uint64_t fallback) { return value == 0 ? fallback : value; }

// Bytes a length-delimited field of `n` bytes takes on the wire with a one-byte tag.
uint64_t FieldBytes(uint64_t n) {
  uint64_t varint = 1;
  for (uint64_t v = n; v >= 0x80; v >>= 7) ++varint;
  return 1 + varint + n;
}
}  // namespace

absl::Status BlockLifecycle::CheckStoredHostState(const KvStore& store) {
  std::unique_ptr<KvSnapshot> snap = store.GetSnapshot();
  ASSIGN_OR_RETURN(std::optional<LtHash16> hash, ReadStoredStateHash(*snap));
  ASSIGN_OR_RETURN(std::optional<std::string> saved, snap->Get(host_keys::kSavedHeight));
  if (!saved) {
    if (hash) {
      return absl::DataLossError(StrCat("the store has a state hash but no ",
                                        host_keys::kSavedHeight));
    }
    return absl::OkStatus();
  }
  uint64_t height;
  if (!ParseNat(*saved, &height)) {
    return absl::DataLossError(StrCat(host_keys::kSavedHeight, " is not a number"));
  }
  if (!hash) {
    return absl::DataLossError(StrCat("the store is at saved height ", height,
                                      " but has no stored state hash"));
  }
  ASSIGN_OR_RETURN(std::optional<std::string> stored, snap->Get(host_keys::kEndBlockResponse));
  v1::EndBlockResponse resp;
  if (!stored || !resp.ParseFromString(*stored)) {
    return absl::DataLossError(
        StrCat(host_keys::kEndBlockResponse, " is missing or unreadable at saved height ", height));
  }
  if (resp.height() != static_cast<int64_t>(height)) {
    return absl::DataLossError(StrCat(host_keys::kEndBlockResponse, " is for height ",
                                      resp.height(), " but the saved height is ", height));
  }
  if (resp.state_hash() != hash->DigestHex()) {
    return absl::DataLossError(StrCat("the stored EndBlock response of height ", height,
                                      " has state hash ", resp.state_hash(),
                                      " but the stored state hash is ", hash->DigestHex()));
  }
  return absl::OkStatus();
}


BlockParams BlockParams::FromProto(const v1::Params& p) {
  BlockParams d;
  BlockParams b;
  b.max_cranks_per_block = OrDefault(p.max_cranks_per_block(), d.max_cranks_per_block);
  b.max_computrons_per_block =
      OrDefault(p.max_computrons_per_block(), d.max_computrons_per_block);
  b.max_result_bytes = OrDefault(p.max_result_bytes(), d.max_result_bytes);
  b.max_settled_bytes_per_block =
      OrDefault(p.max_settled_bytes_per_block(), d.max_settled_bytes_per_block);
  b.mailbox.max_body_bytes = OrDefault(p.max_mailbox_body_bytes(), d.mailbox.max_body_bytes);
  b.mailbox.max_outbox_messages =
      OrDefault(p.max_outbox_messages(), d.mailbox.max_outbox_messages);
  b.mailbox.max_outbox_bytes = OrDefault(p.max_outbox_bytes(), d.mailbox.max_outbox_bytes);
  b.mailbox.max_peers = OrDefault(p.max_mailbox_peers(), d.mailbox.max_peers);
  b.vat.code.max_buffer_bytes = OrDefault(p.max_vat_buffer_bytes(), d.vat.code.max_buffer_bytes);
  b.vat.code.max_buffer_bytes_per_delivery =
      OrDefault(p.max_vat_buffer_bytes_per_delivery(), d.vat.code.max_buffer_bytes_per_delivery);
  b.vat.code.max_string_length =
      OrDefault(p.max_vat_string_length(), d.vat.code.max_string_length);
  b.vat.code.max_bigint_bits = OrDefault(p.max_vat_bigint_bits(), d.vat.code.max_bigint_bits);
  b.vat.max_vatstore_bytes = OrDefault(p.max_vatstore_bytes(), d.vat.max_vatstore_bytes);
  b.vat.max_vatstore_bytes_per_delivery =
      OrDefault(p.max_vatstore_bytes_per_delivery(), d.vat.max_vatstore_bytes_per_delivery);
  b.vat.max_enqueued_per_delivery =
      OrDefault(p.max_enqueued_per_delivery(), d.vat.max_enqueued_per_delivery);
  b.vat.max_clist_entries_per_delivery =
      OrDefault(p.max_clist_entries_per_delivery(), d.vat.max_clist_entries_per_delivery);
  b.meter.version = static_cast<uint32_t>(OrDefault(p.meter_version(), d.meter.version));
  b.meter.computrons_per_delivery =
      OrDefault(p.computrons_per_delivery(), d.meter.computrons_per_delivery);
  b.meter.max_call_depth = static_cast<uint32_t>(OrDefault(p.max_call_depth(), d.meter.max_call_depth));
  return b;
}

Json MeterParams::ToVatOption() const {
  Json m = Json::MakeObject();
  m.Set("version", static_cast<int64_t>(version));
  m.Set("computrons", Json(computrons_per_delivery));
  m.Set("maxDepth", static_cast<int64_t>(max_call_depth));
  return m;
}

Json BlockParams::ToJson() const {
  Json j = Json::MakeObject();
  j.Set("computronsPerDelivery", Json(meter.computrons_per_delivery));
  j.Set("maxCallDepth", Json(uint64_t{meter.max_call_depth}));
  j.Set("maxComputronsPerBlock", Json(max_computrons_per_block));
  j.Set("maxCranksPerBlock", Json(max_cranks_per_block));
  j.Set("maxMailboxBodyBytes", Json(mailbox.max_body_bytes));
  j.Set("maxMailboxPeers", Json(mailbox.max_peers));
  j.Set("maxOutboxBytes", Json(mailbox.max_outbox_bytes));
  j.Set("maxOutboxMessages", Json(mailbox.max_outbox_messages));
  j.Set("maxResultBytes", Json(max_result_bytes));
  j.Set("maxSettledBytesPerBlock", Json(max_settled_bytes_per_block));
  j.Set("maxEnqueuedPerDelivery", Json(vat.max_enqueued_per_delivery));
  j.Set("maxClistEntriesPerDelivery", Json(vat.max_clist_entries_per_delivery));
  j.Set("maxVatBufferBytes", Json(vat.code.max_buffer_bytes));
  j.Set("maxVatBufferBytesPerDelivery", Json(vat.code.max_buffer_bytes_per_delivery));
  j.Set("maxVatStringLength", Json(vat.code.max_string_length));
  j.Set("maxVatBigintBits", Json(vat.code.max_bigint_bits));
  j.Set("maxVatstoreBytes", Json(vat.max_vatstore_bytes));
  j.Set("maxVatstoreBytesPerDelivery", Json(vat.max_vatstore_bytes_per_delivery));
  j.Set("meterVersion", Json(uint64_t{meter.version}));
  return j;
}

BlockParams BlockParams::FromJson(const Json& j) {
  v1::Params p;
  auto get = [&](std::string_view key) -> uint64_t {
    const Json* v = j.is_object() ? j.Find(key) : nullptr;
    return v && v->is_int() && v->as_int() > 0 ? static_cast<uint64_t>(v->as_int()) : 0;
  };
  p.set_max_cranks_per_block(get("maxCranksPerBlock"));
  p.set_max_computrons_per_block(get("maxComputronsPerBlock"));
  p.set_max_mailbox_body_bytes(get("maxMailboxBodyBytes"));
  p.set_max_mailbox_peers(get("maxMailboxPeers"));
  p.set_max_outbox_bytes(get("maxOutboxBytes"));
  p.set_max_outbox_messages(get("maxOutboxMessages"));
  p.set_max_result_bytes(get("maxResultBytes"));
  p.set_max_settled_bytes_per_block(get("maxSettledBytesPerBlock"));
  p.set_max_enqueued_per_delivery(get("maxEnqueuedPerDelivery"));
  p.set_max_clist_entries_per_delivery(get("maxClistEntriesPerDelivery"));
  p.set_max_vat_buffer_bytes(get("maxVatBufferBytes"));
  p.set_max_vat_buffer_bytes_per_delivery(get("maxVatBufferBytesPerDelivery"));
  p.set_max_vat_string_length(get("maxVatStringLength"));
  p.set_max_vat_bigint_bits(get("maxVatBigintBits"));
  p.set_max_vatstore_bytes(get("maxVatstoreBytes"));
  p.set_max_vatstore_bytes_per_delivery(get("maxVatstoreBytesPerDelivery"));
  p.set_meter_version(static_cast<uint32_t>(get("meterVersion")));
  p.set_computrons_per_delivery(get("computronsPerDelivery"));
  p.set_max_call_depth(static_cast<uint32_t>(get("maxCallDepth")));
  return FromProto(p);
}

uint64_t EndBlockResponseBound(const BlockParams& params, const LifecycleLimits& limits) {
  // Height, hashes, flags, counters and stats_json.
  uint64_t bound = 4096;
  // One result per action: id, a kpid ("kp" and up to 20 digits) and an error text.
  const uint64_t result = FieldBytes(1 + 10 + FieldBytes(22) + FieldBytes(kMaxActionErrorBytes));
  bound += static_cast<uint64_t>(limits.max_actions) * result;
  // Settled results: reported while their encoded sizes (each at most max_result_bytes or an
  // error form of a few hundred bytes) fit the per-block budget; the first one always fits.
  bound += params.max_settled_bytes_per_block + FieldBytes(params.max_result_bytes + 512);
  // Every known peer's mailbox: name, ack and the outbox. A message encodes as its body plus at
  // most 24 bytes (number, tags, lengths); max_outbox_bytes already counts 16 of them.
  const uint64_t mailbox =
      FieldBytes(FieldBytes(kMaxPeerNameBytes) + 11 + params.mailbox.max_outbox_bytes +
                 8 * params.mailbox.max_outbox_messages);
  bound += params.mailbox.max_peers * mailbox;
  return bound;
}

absl::StatusOr<std::unique_ptr<BlockLifecycle>> BlockLifecycle::Open(Options options) {
  SWINGSET_CHECK(options.store != nullptr && options.vat_host != nullptr);
  auto mailbox = std::make_unique<MailboxDevice>();
  MailboxDevice* mailbox_ptr = mailbox.get();
  KernelOptions ko;
  ko.store = options.store;
  ko.vat_host = options.vat_host;
  ko.hasher_factory = Sha256HasherFactory();
  ko.devices.push_back(DeviceConfig{std::string(kMailboxDeviceName), std::move(mailbox)});
  ASSIGN_OR_RETURN(std::unique_ptr<Kernel> kernel, Kernel::Open(std::move(ko)));
  return std::unique_ptr<BlockLifecycle>(
      new BlockLifecycle(std::move(options), std::move(kernel), mailbox_ptr));
}

BlockLifecycle::BlockLifecycle(Options options, std::unique_ptr<Kernel> kernel,
                               MailboxDevice* mailbox)
    : options_(std::move(options)),
      kernel_(std::move(kernel)),
      mailbox_(mailbox),
      state_hash_(options_.store) {}

std::string BlockLifecycle::PhaseName() const {
  switch (phase_) {
    case Phase::kNotInitialized: return "not initialized (call Init)";
    case Phase::kIdle: return StrCat("idle at saved height ", saved_height_);
    case Phase::kBegun: return StrCat("block ", current_height_, " begun (EndBlock expected)");
    case Phase::kEnded: return StrCat("block ", current_height_, " ended (Commit expected)");
    case Phase::kReplayBegun:
      return StrCat("replay of block ", current_height_, " begun (EndBlock expected)");
    case Phase::kReplayEnded:
      return StrCat("replay of block ", current_height_, " ended (Commit expected)");
  }
  return "?";
}

void BlockLifecycle::AbortPendingBlock() {
  if (phase_ == Phase::kBegun || phase_ == Phase::kEnded) {
    log::Warn("discarding uncommitted block", {{"height", StrCat(current_height_)}});
    kernel_->AbortBlock();
    commit_writes_.clear();
    commit_vat_computrons_.reset();
    state_hash_.Abandon();
  }
  if (phase_ != Phase::kNotInitialized) phase_ = Phase::kIdle;
}

absl::Status BlockLifecycle::LoadHostState() {
  const KvStore& store = *options_.store;
  RETURN_IF_ERROR(state_hash_.Load());
  std::optional<std::string> saved = GetFrom(store, host_keys::kSavedHeight);
  if (!saved) {
    saved_height_ = -1;
    return absl::OkStatus();
  }
  uint64_t h;
  if (!ParseNat(*saved, &h)) return absl::DataLossError(StrCat("bad ", host_keys::kSavedHeight));
  saved_height_ = static_cast<int64_t>(h);
  std::optional<std::string> chain = GetFrom(store, host_keys::kChainId);
  chain_id_ = chain.value_or("");
  std::optional<std::string> params = GetFrom(store, host_keys::kParams);
  params_ = BlockParams();
  if (params) {
    ASSIGN_OR_RETURN(Json p, Json::Parse(*params));
    params_ = BlockParams::FromJson(p);
  }
  kernel_->SetVatLimits(params_.vat);
  vat_computrons_.clear();
  std::optional<std::string> used = GetFrom(store, host_keys::kVatComputrons);
  if (used) {
    ASSIGN_OR_RETURN(Json u, Json::Parse(*used));
    if (!u.is_object()) return absl::DataLossError(StrCat("bad ", host_keys::kVatComputrons));
    for (const auto& [vat, n] : u.as_object()) {
      absl::StatusOr<VatId> id = VatId::Parse(vat);
      if (!id.ok() || !n.is_int() || n.as_int() < 0) {
        return absl::DataLossError(StrCat("bad ", host_keys::kVatComputrons));
      }
      vat_computrons_[id->n()] = static_cast<uint64_t>(n.as_int());
    }
  }
  pending_promises_.clear();
  std::optional<std::string> pending = GetFrom(store, host_keys::kPendingPromises);
  if (pending) {
    ASSIGN_OR_RETURN(Json p, Json::Parse(*pending));
    for (const Json& k : p.as_array()) pending_promises_.push_back(k.as_string());
  }
  return absl::OkStatus();
}

// ---- Init

absl::Status BlockLifecycle::Init(const v1::InitRequest& req, v1::InitResponse* resp) {
  // A genesis for an existing store must be the store's own; checked against the committed
  // host keys before anything (even a block in progress) is touched.
  if (req.has_genesis()) {
    const KvStore& store = *options_.store;
    std::optional<std::string> saved = GetFrom(store, host_keys::kSavedHeight);
    if (saved) {
      std::optional<std::string> chain = GetFrom(store, host_keys::kChainId);
      const std::string stored_chain = chain.value_or("");
      if (req.genesis().chain_id() != stored_chain) {
        return absl::FailedPreconditionError(
            StrCat("genesis.chain_id: the store belongs to chain '", Printable(stored_chain),
                   "', not '", Printable(req.genesis().chain_id()), "'"));
      }
      std::optional<std::string> stored_hash = GetFrom(store, host_keys::kGenesisHash);
      std::string given_hash = GenesisHash(req.genesis());
      if (stored_hash && *stored_hash != given_hash) {
        return absl::FailedPreconditionError(StrCat(
            "genesis: chain '", Printable(stored_chain),
            "' was created from another genesis (stored genesis hash ", Printable(*stored_hash),
            ", this one's ", given_hash, "); omit the genesis or pass the original"));
      }
    }
  }
  AbortPendingBlock();
  RETURN_IF_ERROR(LoadHostState());
  if (saved_height_ < 0) {
    if (kernel_->IsInitialized()) {
      return absl::DataLossError(
          StrCat("the store holds kernel state but no ", host_keys::kSavedHeight,
                 ": not a swingsetd data dir, or written by an incompatible version"));
    }
    if (!req.has_genesis()) {
      return Invalid("genesis: the store is empty, so Init needs a genesis");
    }
    RETURN_IF_ERROR(ApplyGenesis(req.genesis(), resp));
  } else {
    resp->set_saved_height(saved_height_);
    resp->set_state_hash(state_hash_.committed_digest());
    resp->set_activity_hash(kernel_->ActivityHash());
    resp->set_chain_id(chain_id_);
    resp->set_genesis_applied(false);
  }
  phase_ = Phase::kIdle;
  log::Info("initialized", {{"saved_height", StrCat(saved_height_)},
                            {"max_end_block_response_bytes",
                             StrCat(EndBlockResponseBound(params_, options_.limits))},
                            {"state_hash", resp->state_hash()},
                            {"genesis_applied", resp->genesis_applied() ? "true" : "false"}});
  return absl::OkStatus();
}

absl::Status BlockLifecycle::ValidateGenesis(const v1::Genesis& g) {
  if (g.vats_size() == 0) return Invalid("genesis.vats: at least one vat is needed");
  std::set<std::string> names;
  for (int i = 0; i < g.vats_size(); ++i) {
    const v1::VatConfig& v = g.vats(i);
    std::string field = StrCat("genesis.vats[", i, "]");
    if (!IsValidVatName(v.name())) {
      return Invalid(StrCat(field, ".name: '", v.name(), "' is not 1-64 of [A-Za-z0-9_-]"));
    }
    if (!names.insert(v.name()).second) {
      return Invalid(StrCat(field, ".name: duplicate vat name '", v.name(), "'"));
    }
    if (v.source().empty()) return Invalid(StrCat(field, ".source: empty"));
    if (!v.parameters_json().empty()) {
      absl::StatusOr<Json> p = Json::Parse(v.parameters_json());
      if (!p.ok()) {
        return Invalid(StrCat(field, ".parameters_json: ", p.status().message()));
      }
    }
  }
  if (!g.bootstrap_vat().empty() && names.count(g.bootstrap_vat()) == 0) {
    return Invalid(StrCat("genesis.bootstrap_vat: no vat named '", g.bootstrap_vat(), "'"));
  }
  const v1::Params& p = g.params();
  for (const auto& [name, value] :
       {std::pair<const char*, uint64_t>{"max_vat_buffer_bytes", p.max_vat_buffer_bytes()},
        {"max_vat_buffer_bytes_per_delivery", p.max_vat_buffer_bytes_per_delivery()},
        {"max_vat_string_length", p.max_vat_string_length()},
        {"max_vat_bigint_bits", p.max_vat_bigint_bits()},
        {"max_vatstore_bytes", p.max_vatstore_bytes()},
        {"max_vatstore_bytes_per_delivery", p.max_vatstore_bytes_per_delivery()},
        {"max_enqueued_per_delivery", p.max_enqueued_per_delivery()},
        {"max_clist_entries_per_delivery", p.max_clist_entries_per_delivery()}}) {
    // (Exact as a JavaScript number, which vat code compares against.)
    if (value > (uint64_t{1} << 53) - 1) {
      return Invalid(StrCat("genesis.params.", name, ": ", value, " is above 2^53-1"));
    }
  }
  std::set<std::string> peers;
  for (int i = 0; i < g.mailbox_peers_size(); ++i) {
    if (!IsValidPeerName(g.mailbox_peers(i))) {
      return Invalid(StrCat("genesis.mailbox_peers[", i, "]: bad peer name '",
                            g.mailbox_peers(i), "'"));
    }
    if (!peers.insert(g.mailbox_peers(i)).second) {
      return Invalid(StrCat("genesis.mailbox_peers[", i, "]: duplicate"));
    }
  }
  const v1::Params& gp = g.params();
  const std::pair<const char*, uint64_t> byte_limits[] = {
      {"max_result_bytes", gp.max_result_bytes()},
      {"max_settled_bytes_per_block", gp.max_settled_bytes_per_block()},
      {"max_mailbox_body_bytes", gp.max_mailbox_body_bytes()},
      {"max_outbox_bytes", gp.max_outbox_bytes()},
      {"max_outbox_messages", gp.max_outbox_messages()},
      {"max_mailbox_peers", gp.max_mailbox_peers()}};
  for (const auto& [name, value] : byte_limits) {
    if (value > kMaxEndBlockResponseBytes) {
      return Invalid(StrCat("genesis.params.", name, ": ", value, "; at most ",
                            kMaxEndBlockResponseBytes));
    }
  }
  if (gp.max_cranks_per_block() > kMaxMailboxNumber) {
    return Invalid("genesis.params.max_cranks_per_block: at most 2^53-1");
  }
  if (gp.meter_version() > kMeterVersion) {
    return Invalid(StrCat("genesis.params.meter_version: ", gp.meter_version(),
                          "; this build runs meter versions up to ", kMeterVersion));
  }
  if (gp.computrons_per_delivery() > (uint64_t{1} << 40)) {
    return Invalid("genesis.params.computrons_per_delivery: at most 2^40");
  }
  if (gp.max_call_depth() > 100000) {
    return Invalid("genesis.params.max_call_depth: at most 100000");
  }
  if (gp.max_computrons_per_block() > kMaxMailboxNumber) {
    return Invalid("genesis.params.max_computrons_per_block: at most 2^53-1");
  }
  const BlockParams params = BlockParams::FromProto(gp);
  if (peers.size() > params.mailbox.max_peers) {
    return Invalid(StrCat("genesis.mailbox_peers: ", peers.size(), " peers; max_mailbox_peers is ",
                          params.mailbox.max_peers));
  }
  const uint64_t bound = EndBlockResponseBound(params, options_.limits);
  if (bound > kMaxEndBlockResponseBytes) {
    return Invalid(StrCat("genesis.params: the limits allow an EndBlock response of ", bound,
                          " bytes, above the server's send limit of ", kMaxEndBlockResponseBytes));
  }
  return absl::OkStatus();
}

absl::Status BlockLifecycle::ApplyGenesis(const v1::Genesis& g, v1::InitResponse* resp) {
  RETURN_IF_ERROR(ValidateGenesis(g));
  GenesisConfig config;
  for (const v1::VatConfig& v : g.vats()) {
    VatConfig vc;
    vc.name = v.name();
    vc.source = v.source();
    if (!v.parameters_json().empty()) vc.parameters_json = v.parameters_json();
    vc.raw = v.raw();
    vc.enable_pipelining = v.enable_pipelining();
    vc.reap_interval = v.reap_interval();
    config.vats.push_back(std::move(vc));
  }
  config.bootstrap_vat = g.bootstrap_vat();
  config.device_names.push_back(std::string(kMailboxDeviceName));
  const BlockParams params = BlockParams::FromProto(g.params());
  // Every JavaScript vat is metered (the built-in C++ vats ignore it).
  for (VatConfig& vc : config.vats) vc.meter = params.meter.ToVatOption();
  // A chain's default, as Agoric's chains run: bringOutYourDead every 1,000 deliveries (or 20
  // krefs of GC work), not SwingSet's own default of a forced GC after every delivery.
  Json threshold = Json::MakeObject();
  threshold.Set("deliveries", static_cast<int64_t>(g.params().default_reap_interval() > 0
                                                       ? g.params().default_reap_interval()
                                                       : kChainDefaultReapInterval));
  threshold.Set("gcKrefs", 20);
  threshold.Set("computrons", "never");
  config.default_reap_dirt_threshold = std::move(threshold);

  absl::Status s = kernel_->InitializeGenesis(config);
  if (s.ok()) {
    std::vector<std::string> peers(g.mailbox_peers().begin(), g.mailbox_peers().end());
    s = kernel_->WithDevice(kMailboxDeviceName, [&](DeviceContext* ctx) {
      mailbox_->SetLimits(ctx, params.mailbox);
      return mailbox_->AddPeers(ctx, peers);
    });
  }
  if (!s.ok()) {
    kernel_->AbortBlock();
    return s.code() == absl::StatusCode::kInvalidArgument
               ? Invalid(StrCat("genesis: ", s.message()))
               : s;
  }

  chain_id_ = g.chain_id();
  params_ = params;
  kernel_->SetVatLimits(params_.vat);
  pending_promises_.clear();
  current_height_ = 0;
  v1::EndBlockResponse genesis_block;
  genesis_block.set_height(0);
  genesis_block.set_stats_json("{\"genesis\":true}");
  commit_pending_promises_.clear();
  s = PrepareCommit(0, &genesis_block);
  if (s.ok()) {
    commit_writes_.push_back(KvWrite{std::string(host_keys::kChainId), chain_id_});
    commit_writes_.push_back(KvWrite{std::string(host_keys::kGenesisHash), GenesisHash(g)});
    commit_writes_.push_back(KvWrite{std::string(host_keys::kParams), params_.ToJson().Dump()});
    s = kernel_->CommitBlock(commit_writes_, /*sync=*/true);
    // docs/DESIGN.md §7, as for every block's commit.
    SWINGSET_CHECK_STORAGE(s.ok()) << "commit of the genesis failed: " << s.ToString();
  }
  commit_writes_.clear();
  if (!s.ok()) {
    kernel_->AbortBlock();
    state_hash_.Abandon();
    return s;
  }
  saved_height_ = 0;
  state_hash_.Committed();
  resp->set_saved_height(0);
  resp->set_state_hash(state_hash_.committed_digest());
  resp->set_activity_hash(genesis_block.activity_hash());
  resp->set_chain_id(chain_id_);
  resp->set_genesis_applied(true);
  return absl::OkStatus();
}

// ---- BeginBlock

absl::Status BlockLifecycle::BeginBlock(const v1::BeginBlockRequest& req,
                                        v1::BeginBlockResponse* resp) {
  if (phase_ != Phase::kIdle) {
    return OutOfOrder(StrCat("BeginBlock(", req.height(), "): ", PhaseName()));
  }
  if (req.height() == saved_height_ + 1) {
    phase_ = Phase::kBegun;
    resp->set_replay(false);
  } else if (req.height() == saved_height_) {
    phase_ = Phase::kReplayBegun;
    resp->set_replay(true);
  } else {
    return OutOfOrder(StrCat("BeginBlock: height ", req.height(), " but the saved height is ",
                             saved_height_, " (expected ", saved_height_ + 1,
                             ", or ", saved_height_, " to replay)"));
  }
  current_height_ = req.height();
  return absl::OkStatus();
}

// ---- EndBlock

absl::Status BlockLifecycle::ValidateActions(const v1::EndBlockRequest& req) {
  const LifecycleLimits& lim = options_.limits;
  if (static_cast<size_t>(req.actions_size()) > lim.max_actions) {
    return Invalid(StrCat("actions: ", req.actions_size(), " actions; at most ", lim.max_actions,
                          " per block"));
  }
  // Only the form of each action is checked here. Whatever depends on state (does the vat
  // exist and live, is the peer known) is the action's own error in `results`.
  for (int i = 0; i < req.actions_size(); ++i) {
    const v1::Action& a = req.actions(i);
    std::string field = StrCat("actions[", i, "]");
    switch (a.kind_case()) {
      case v1::Action::kCallVat: {
        const v1::CallVat& c = a.call_vat();
        if (c.vat().empty()) return Invalid(StrCat(field, ".call_vat.vat: empty"));
        if (!IsValidVatName(c.vat())) {
          return Invalid(StrCat(field, ".call_vat.vat: not 1-64 of [A-Za-z0-9_-]"));
        }
        if (!IsIdentifierLike(c.method()) || c.method().size() > lim.max_method_bytes) {
          return Invalid(StrCat(field, ".call_vat.method: must be 1-", lim.max_method_bytes,
                                " printable characters"));
        }
        if (c.method()[0] >= '!' && c.method()[0] <= '-') {
          return Invalid(StrCat(field, ".call_vat.method: must not start with one of "
                                       "!\"#$%&'()*+,- (reserved by smallcaps)"));
        }
        if (c.args_json().size() > lim.max_args_json_bytes) {
          return Invalid(StrCat(field, ".call_vat.args_json: ", c.args_json().size(),
                                " bytes; at most ", lim.max_args_json_bytes));
        }
        absl::StatusOr<CapData> args = smallcaps::ArgsFromJson(c.args_json());
        if (!args.ok()) return Invalid(StrCat(field, ".call_vat.args_json: ", args.status().message()));
        break;
      }
      case v1::Action::kDeliverInbound: {
        const v1::DeliverInbound& d = a.deliver_inbound();
        if (!IsValidPeerName(d.peer())) {
          return Invalid(StrCat(field, ".deliver_inbound.peer: bad peer name '", d.peer(), "'"));
        }
        if (static_cast<size_t>(d.messages_size()) > lim.max_inbound_messages) {
          return Invalid(StrCat(field, ".deliver_inbound.messages: at most ",
                                lim.max_inbound_messages));
        }
        if (d.ack() > kMaxMailboxNumber) {
          return Invalid(StrCat(field, ".deliver_inbound.ack: above 2^53-1"));
        }
        for (int j = 0; j < d.messages_size(); ++j) {
          const v1::MailboxMessage& m = d.messages(j);
          if (m.num() == 0 || m.num() > kMaxMailboxNumber) {
            return Invalid(StrCat(field, ".deliver_inbound.messages[", j,
                                  "].num: must be 1..2^53-1"));
          }
          if (m.body().size() > lim.max_body_bytes) {
            return Invalid(StrCat(field, ".deliver_inbound.messages[", j, "].body: at most ",
                                  lim.max_body_bytes, " bytes"));
          }
        }
        break;
      }
      case v1::Action::KIND_NOT_SET:
        return Invalid(StrCat(field, ": no action kind set"));
    }
  }
  return absl::OkStatus();
}

absl::Status BlockLifecycle::EndBlock(const v1::EndBlockRequest& req, v1::EndBlockResponse* resp) {
  if (phase_ == Phase::kReplayBegun && req.height() == current_height_) {
    std::optional<std::string> stored = GetFrom(*options_.store, host_keys::kEndBlockResponse);
    if (!stored || !resp->ParseFromString(*stored) || resp->height() != current_height_) {
      return absl::DataLossError(StrCat("no stored EndBlock response for height ",
                                        current_height_));
    }
    phase_ = Phase::kReplayEnded;
    log::Info("replayed EndBlock", {{"height", StrCat(current_height_)}});
    return absl::OkStatus();
  }
  if (phase_ != Phase::kBegun || req.height() != current_height_) {
    return OutOfOrder(StrCat("EndBlock(", req.height(), "): ", PhaseName()));
  }
  RETURN_IF_ERROR(ValidateActions(req));

  auto start = std::chrono::steady_clock::now();
  Json stats = Json::MakeObject();
  absl::Status s = ExecuteBlock(req, resp, &stats);
  if (s.ok()) s = PrepareCommit(req.height(), resp, &stats, start);
  if (!s.ok()) {
    log::Error("EndBlock failed; block discarded",
               {{"height", StrCat(req.height())}, {"error", s.ToString()}});
    kernel_->AbortBlock();
    commit_writes_.clear();
    state_hash_.Abandon();
    resp->Clear();
    return s;
  }
  phase_ = Phase::kEnded;
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - start)
                    .count();
  log::Info("EndBlock", {{"height", StrCat(req.height())},
                         {"actions", StrCat(resp->actions_consumed(), "/", req.actions_size())},
                         {"state_hash", resp->state_hash()},
                         {"micros", StrCat(micros)}});
  Crash("end_block_done", req.height());
  return absl::OkStatus();
}

absl::Status BlockLifecycle::ExecuteBlock(const v1::EndBlockRequest& req,
                                          v1::EndBlockResponse* resp, Json* stats_out) {
  auto start = std::chrono::steady_clock::now();
  mailbox_->ResetTouchedPeers();

  const uint64_t budget = params_.max_cranks_per_block;
  RunStats total;
  bool last_ran = false;  // the latest run() ran (the budget was not spent before it)
  bool work_remains = false;
  auto counted = [&] { return total.cranks - total.routing_cranks; };
  const uint64_t computron_budget = params_.max_computrons_per_block;
  auto run = [&] {
    last_ran = counted() < budget && total.total_computrons < computron_budget;
    if (!last_ran) return;
    RunPolicy policy;
    policy.max_cranks = budget - counted();
    policy.routing_is_free = true;
    policy.max_computrons = computron_budget - total.total_computrons;
    RunStats last = kernel_->Run(policy);
    total.cranks += last.cranks;
    total.routing_cranks += last.routing_cranks;
    total.deliveries += last.deliveries;
    total.gc_deliveries += last.gc_deliveries;
    total.reaps += last.reaps;
    total.cleanups += last.cleanups;
    for (const auto& [vat, c] : last.computrons) total.computrons[vat] += c;
    total.total_computrons += last.total_computrons;
    work_remains = last.work_remains;
  };

  // Admission (docs/KERNEL.md, "Block admission"): every action, in request order, before any
  // crank of this block runs. A call_vat goes onto the kernel's queue behind the work already
  // queued (work left over from earlier blocks included), so one busy vat cannot keep the
  // host's actions out; inbound mail is handed to the mailbox device, which queues it to the
  // handler the same way. Only then do cranks run, under the budget, in queue order.
  std::vector<std::string> pending = pending_promises_;
  uint64_t consumed = 0;
  const int mid = req.actions_size() / 2;
  bool has_handler = false;
  RETURN_IF_ERROR(kernel_->WithDevice(kMailboxDeviceName, [&](DeviceContext* ctx) {
    ASSIGN_OR_RETURN(has_handler, mailbox_->HasHandler(ctx));
    return absl::OkStatus();
  }));
  for (int i = 0; i < req.actions_size(); ++i) {
    if (i == mid && i > 0) Crash("end_block_mid", req.height());
    const v1::Action& a = req.actions(i);
    // Inbound mail waits (unconsumed, so Go keeps it) until a vat has registered a handler;
    // typically the bootstrap does so in the first block.
    if (a.has_deliver_inbound() && !has_handler) break;
    v1::ActionResult* result = resp->add_results();
    result->set_id(a.id());
    if (a.has_call_vat()) {
      const v1::CallVat& c = a.call_vat();
      absl::StatusOr<CapData> args = smallcaps::ArgsFromJson(c.args_json());
      SWINGSET_CHECK(args.ok()) << "validated args_json no longer parses";
      absl::StatusOr<Kref> kpid = kernel_->QueueToVatRoot(c.vat(), c.method(), *args);
      if (kpid.ok()) {
        result->set_result_kpid(kpid->ToString());
        pending.push_back(kpid->ToString());
      } else if (kpid.status().code() == absl::StatusCode::kNotFound) {
        result->set_error(ActionError(std::string(kpid.status().message())));
      } else {
        // Not the request's fault (args were validated): a broken kernel state or invariant.
        return absl::InternalError(StrCat("call_vat: ", kpid.status().ToString()));
      }
    } else {
      const v1::DeliverInbound& d = a.deliver_inbound();
      std::vector<std::pair<uint64_t, std::string>> messages;
      messages.reserve(d.messages_size());
      for (const v1::MailboxMessage& m : d.messages()) messages.emplace_back(m.num(), m.body());
      absl::Status s = kernel_->WithDevice(kMailboxDeviceName, [&](DeviceContext* ctx) {
        return mailbox_->DeliverInbound(ctx, d.peer(), messages, d.ack());
      });
      if (s.code() == absl::StatusCode::kNotFound ||
          s.code() == absl::StatusCode::kFailedPrecondition) {
        result->set_error(ActionError(std::string(s.message())));
      } else if (!s.ok()) {
        return absl::InternalError(StrCat("deliver_inbound: ", s.ToString()));
      }
    }
    ++consumed;
  }
  resp->set_actions_consumed(consumed);
  run();

  // Report host-held result promises that settled, and drop the host's interest in them, in
  // creation order while the block's settled-bytes budget lasts (the first always fits); the
  // rest stay pending and are reported in a later block.
  std::vector<std::string> still_pending;
  bool released = false;
  bool deferred = false;
  uint64_t settled_bytes = 0;
  for (const std::string& k : pending) {
    ASSIGN_OR_RETURN(Kref kpid, Kref::Parse(k));
    PromiseStatus ps = kernel_->GetPromiseStatus(kpid);
    if (ps.state == "unresolved" || deferred) {
      still_pending.push_back(k);
      continue;
    }
    if (ps.state == "fulfilled" || ps.state == "rejected") {
      v1::PromiseResult r;
      r.set_kpid(k);
      r.set_state(ps.state);
      // The body is vat text: JSON after '#', with any lone surrogate escaped for proto3.
      r.set_body(JsonTextToUtf8(ps.data.body));
      for (const std::string& slot : ps.data.slots) r.add_slots(slot);
      absl::StatusOr<Json> value = smallcaps::Decode(ps.data);
      if (value.ok()) r.set_value_json(value->Dump());
      const uint64_t size = r.ByteSizeLong();
      if (size > params_.max_result_bytes) {
        r.clear_body();
        r.clear_slots();
        r.clear_value_json();
        r.set_error(StrCat("the result is ", size, " bytes, above max_result_bytes (",
                           params_.max_result_bytes, ")"));
      }
      const uint64_t cost = FieldBytes(r.ByteSizeLong());
      if (resp->settled_size() > 0 && settled_bytes + cost > params_.max_settled_bytes_per_block) {
        deferred = true;
        still_pending.push_back(k);
        continue;
      }
      settled_bytes += cost;
      *resp->add_settled() = std::move(r);
    }
    RETURN_IF_ERROR(kernel_->ReleaseHostPromise(kpid));
    released = true;
  }
  commit_pending_promises_ = std::move(still_pending);
  if (released) run();
  if (!last_ran) {
    KernelCounts c = kernel_->Counts();
    work_remains = c.run_queue + c.acceptance_queue + c.gc_actions > 0;
  }
  resp->set_work_remains(work_remains || deferred ||
                         consumed < static_cast<uint64_t>(req.actions_size()));

  RETURN_IF_ERROR(ReportChangedMailboxes(resp));

  Json& stats = *stats_out;
  stats.Set("cranks", Json(total.cranks));
  stats.Set("routingCranks", Json(total.routing_cranks));
  stats.Set("deliveries", Json(total.deliveries));
  stats.Set("gcDeliveries", Json(total.gc_deliveries));
  stats.Set("reaps", Json(total.reaps));
  stats.Set("cleanups", Json(total.cleanups));
  // Computrons metered vats used in this block, by vat id (in vat-number order).
  Json computrons = Json::MakeObject();
  for (const auto& [vat, c] : total.computrons) computrons.Set(VatId(vat).ToString(), Json(c));
  stats.Set("computrons", std::move(computrons));
  stats.Set("computronsTotal", Json(total.total_computrons));
  commit_vat_computrons_.reset();
  if (!total.computrons.empty()) {
    commit_vat_computrons_ = vat_computrons_;
    for (const auto& [vat, c] : total.computrons) (*commit_vat_computrons_)[vat] += c;
  }
  stats.Set("crankNumber", Json(kernel_->CrankNumber()));
  // The kernel's work: admission, cranks, settled results and mailboxes.
  stats.Set("runMicros", Json(MicrosSince(start)));
  return absl::OkStatus();
}

absl::Status BlockLifecycle::ReportChangedMailboxes(v1::EndBlockResponse* resp) {
  const std::set<std::string>& touched = mailbox_->touched_peers();
  if (touched.empty()) return absl::OkStatus();
  std::optional<std::string> device = kernel_->Get(keys::DeviceName(kMailboxDeviceName));
  if (!device) return absl::InternalError("the mailbox device has no id");
  ASSIGN_OR_RETURN(DeviceId d, DeviceId::Parse(*device));
  const std::string prefix = keys::DeviceStateKey(d, "");
  // The block's writes to the device state, over the committed store: before vs after.
  MailboxReader::Overlay overlay;
  kernel_->VisitBlockWrites([&](std::string_view key, const std::optional<std::string>& value) {
    if (key.substr(0, prefix.size()) == prefix) overlay.emplace(std::string(key), value);
  });
  std::unique_ptr<KvSnapshot> snap = options_.store->GetSnapshot();
  MailboxReader before(snap.get(), prefix);
  MailboxReader after(snap.get(), prefix, &overlay);
  static const PeerMailbox kEmpty;
  for (const std::string& peer : touched) {
    // The committed mailbox state must be readable: a failure is a broken store.
    absl::StatusOr<std::optional<PeerMailbox>> b = before.ReadPeer(peer);
    SWINGSET_CHECK_STORAGE(b.ok())
        << "reading the mailbox of " << peer << ": " << b.status().ToString();
    absl::StatusOr<std::optional<PeerMailbox>> a = after.ReadPeer(peer);
    SWINGSET_CHECK_STORAGE(a.ok())
        << "reading the mailbox of " << peer << ": " << a.status().ToString();
    const PeerMailbox& now = *a ? **a : kEmpty;
    if (now.SameOutbound(*b ? **b : kEmpty)) continue;
    v1::MailboxState* m = resp->add_mailboxes();
    m->set_peer(peer);
    m->set_ack(now.ack);
    for (const auto& [num, body] : now.outbox) {
      v1::MailboxMessage* out = m->add_outbox();
      out->set_num(num);
      out->set_body(ToValidUtf8(body));  // the device admits only UTF-8; a guard for old state
    }
  }
  return absl::OkStatus();
}

absl::Status BlockLifecycle::PrepareCommit(int64_t height, v1::EndBlockResponse* resp,
                                           Json* stats,
                                           std::chrono::steady_clock::time_point start) {
  const auto hash_start = std::chrono::steady_clock::now();
  KvBatch host_writes;
  absl::StatusOr<std::string> prepared = state_hash_.Prepare(
      [&](const StateWriteWithBaseVisitor& fn) { kernel_->VisitBlockWritesWithBase(fn); },
      &host_writes);
  // The block's writes come in key order from the crank buffer, so what can fail here is the
  // read of a committed value: the store is broken (docs/DESIGN.md §7).
  SWINGSET_CHECK_STORAGE(prepared.ok()) << "the state hash of height " << height
                                        << " cannot be prepared: " << prepared.status().ToString();
  const std::string& state_hash = *prepared;
  resp->set_height(height);
  resp->set_state_hash(state_hash);
  resp->set_activity_hash(kernel_->ActivityHash());
  if (stats) {
    // The state hash's update over the block's net writes, and waiting for the activity hash's
    // worker; then the whole EndBlock (what the client sees, less gRPC).
    stats->Set("hashMicros", Json(MicrosSince(hash_start)));
    stats->Set("wallMicros", Json(MicrosSince(start)));
    resp->set_stats_json(stats->Dump());
  }

  // The stored copy is the replay answer, so it is kept with replayed=true.
  v1::EndBlockResponse stored = *resp;
  stored.set_replayed(true);
  std::string stored_bytes;
  if (!stored.SerializeToString(&stored_bytes)) {
    state_hash_.Abandon();
    return absl::InternalError("cannot serialize the EndBlock response");
  }

  commit_writes_ = std::move(host_writes);
  commit_writes_.push_back(KvWrite{std::string(host_keys::kSavedHeight), StrCat(height)});
  commit_writes_.push_back(KvWrite{std::string(host_keys::kActivityHash), resp->activity_hash()});
  commit_writes_.push_back(KvWrite{std::string(host_keys::kEndBlockResponse), stored_bytes});
  commit_writes_.push_back(KvWrite{std::string(host_keys::kPendingPromises),
                                   PendingPromisesJson(commit_pending_promises_)});
  if (commit_vat_computrons_) {
    Json used = Json::MakeObject();
    for (const auto& [vat, c] : *commit_vat_computrons_) used.Set(VatId(vat).ToString(), Json(c));
    commit_writes_.push_back(KvWrite{std::string(host_keys::kVatComputrons), used.Dump()});
  }
  return absl::OkStatus();
}

// ---- Commit

absl::Status BlockLifecycle::Commit(const v1::CommitRequest& req, v1::CommitResponse* resp) {
  if (phase_ == Phase::kReplayEnded && req.height() == current_height_) {
    phase_ = Phase::kIdle;
    resp->set_height(req.height());
    resp->set_state_hash(state_hash_.committed_digest());
    resp->set_replayed(true);
    return absl::OkStatus();
  }
  if (phase_ != Phase::kEnded || req.height() != current_height_) {
    return OutOfOrder(StrCat("Commit(", req.height(), "): ", PhaseName()));
  }
  Crash("commit_before_write", req.height());
  const auto start = std::chrono::steady_clock::now();
  absl::Status s = kernel_->CommitBlock(commit_writes_, /*sync=*/true);
  // docs/DESIGN.md §7: a storage failure stops the process rather than risk a forked state.
  SWINGSET_CHECK_STORAGE(s.ok()) << "commit of height " << req.height()
                                 << " failed: " << s.ToString();
  commit_writes_.clear();
  saved_height_ = req.height();
  state_hash_.Committed();
  pending_promises_ = std::move(commit_pending_promises_);
  commit_pending_promises_.clear();
  if (commit_vat_computrons_) vat_computrons_ = std::move(*commit_vat_computrons_);
  commit_vat_computrons_.reset();
  phase_ = Phase::kIdle;
  resp->set_height(saved_height_);
  resp->set_state_hash(state_hash_.committed_digest());
  Json stats = Json::MakeObject();
  stats.Set("commitMicros", Json(MicrosSince(start)));
  resp->set_stats_json(stats.Dump());
  log::Debug("committed", {{"height", StrCat(saved_height_)},
                           {"state_hash", resp->state_hash()}});
  Crash("commit_after_write", req.height());
  return absl::OkStatus();
}

}  // namespace swingset
