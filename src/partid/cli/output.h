// cli: how partictl prints answers — the JSON as received with --json, or a
// short human rendering per command; errors always as "error: code: message".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace partid::cli {

std::string render_item(const nlohmann::json& j);
std::string render_items(const nlohmann::json& j);
std::string render_write(const nlohmann::json& j);
std::string render_counts(const nlohmann::json& j);
std::string render_topology(const nlohmann::json& j);
std::string render_status(const nlohmann::json& j);
std::string render_resize(const nlohmann::json& j);
// POST /txn and GET /txn/{id}.
std::string render_txn(const nlohmann::json& j);
std::string render_txn_status(const nlohmann::json& j);
// 1536 -> "1.5 KiB"; below 1 KiB, exact bytes.
std::string byte_size(uint64_t bytes);
// GET /admin/partitions/{p}/validate: one line per replica, then the verdict.
std::string render_validation(const nlohmann::json& j);
// The error object of a failed response (or the transport error).
std::string render_error(int status, const std::string& body, const std::string& transport_error);

}  // namespace partid::cli
