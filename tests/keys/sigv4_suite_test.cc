// SigV4 against AWS's own signing test suite (awslabs/aws-c-auth aws-signing-test-suite/v4, in
// ../shared/data/aws-sigv4): for every case, header and query signing must reproduce the
// canonical request, string to sign, signature and the signed request's added headers/params.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/keys/sigv4.h"

namespace cpipe::keys {
namespace {

namespace fs = std::filesystem;
const fs::path kSuite = fs::path(CPIPE_SHARED_DATA) / "aws-sigv4";

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in.good()) << p;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct ParsedRequest {
  HttpRequest request;
  std::string target;  // the request line's URI
};

// "METHOD URI HTTP/1.1", header lines (continuations start with whitespace), blank line, body.
ParsedRequest parse_http(const std::string& text) {
  ParsedRequest out;
  size_t pos = text.find('\n');
  std::string line = text.substr(0, pos);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = line.rfind(' ');
  out.request.method = line.substr(0, sp1);
  out.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const size_t q = out.target.find('?');
  out.request.path = out.target.substr(0, q);
  if (q != std::string::npos) out.request.query = out.target.substr(q + 1);
  while (pos != std::string::npos && pos + 1 <= text.size()) {
    size_t next = text.find('\n', pos + 1);
    line = text.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    pos = next;
    if (line.empty()) {
      if (pos != std::string::npos) out.request.body = text.substr(pos + 1);
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      out.request.headers.back().second += " " + line;
      continue;
    }
    const size_t colon = line.find(':');
    out.request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return out;
}

std::string fold(std::string v) {
  std::string out;
  std::istringstream ss(v);
  std::string w;
  while (ss >> w) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::multiset<std::string> header_set(const HttpHeaders& headers) {
  std::multiset<std::string> out;
  for (auto [n, v] : headers) {
    std::transform(n.begin(), n.end(), n.begin(), ::tolower);
    out.insert(n + ":" + fold(v));
  }
  return out;
}

std::multiset<std::string> query_set(const std::string& q) {
  std::multiset<std::string> out;
  std::istringstream ss(q);
  std::string part;
  while (std::getline(ss, part, '&'))
    if (!part.empty()) out.insert(part);
  return out;
}

struct Case {
  std::string name;
  HttpRequest request;
  AwsCredentials credentials;
  SigV4Options options;
};

Case load_case(const fs::path& dir) {
  Case c;
  c.name = dir.filename().string();
  c.request = parse_http(slurp(dir / "request.txt")).request;
  auto ctx = nlohmann::json::parse(slurp(dir / "context.json"));
  c.credentials.access_key_id = ctx["credentials"]["access_key_id"];
  c.credentials.secret_access_key = ctx["credentials"]["secret_access_key"];
  c.credentials.session_token = ctx["credentials"].value("token", "");
  c.options.region = ctx["region"];
  c.options.service = ctx["service"];
  auto t = parse_iso8601_utc(ctx["timestamp"].get<std::string>());
  EXPECT_TRUE(t.ok());
  c.options.unix_time = *t;
  c.options.normalize_path = ctx.value("normalize", true);
  c.options.sign_body_header = ctx.value("sign_body", false);
  c.options.omit_session_token = ctx.value("omit_session_token", false);
  c.options.expires_seconds = ctx.value("expiration_in_seconds", 3600);
  // Flags this implementation does not know would make a case silently wrong.
  for (auto& [k, v] : ctx.items()) {
    static const std::set<std::string> known = {
        "credentials",          "region", "service", "timestamp", "normalize", "sign_body", "omit_session_token",
        "expiration_in_seconds"};
    EXPECT_TRUE(known.count(k)) << c.name << ": unknown context flag " << k;
  }
  return c;
}

std::vector<fs::path> case_dirs() {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(kSuite))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(SigV4Suite, HasEveryCaseWithEveryFile) {
  const auto dirs = case_dirs();
  // aws-c-auth v4 suite at 495329c: 38 cases, each with header and query expectations.
  ASSERT_EQ(dirs.size(), 38u);
  for (const auto& d : dirs)
    for (const char* f :
         {"request.txt", "context.json", "header-canonical-request.txt", "header-string-to-sign.txt",
          "header-signature.txt", "header-signed-request.txt", "query-canonical-request.txt",
          "query-string-to-sign.txt", "query-signature.txt", "query-signed-request.txt"})
      EXPECT_TRUE(fs::exists(d / f)) << d / f;
}

TEST(SigV4Suite, HeaderSigningMatchesEveryCase) {
  int checked = 0;
  for (const auto& dir : case_dirs()) {
    SCOPED_TRACE(dir.filename().string());
    Case c = load_case(dir);
    auto r = sigv4_sign_headers(c.request, c.credentials, c.options);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->canonical_request, slurp(dir / "header-canonical-request.txt"));
    EXPECT_EQ(r->string_to_sign, slurp(dir / "header-string-to-sign.txt"));
    EXPECT_EQ(r->signature, slurp(dir / "header-signature.txt"));
    // The signed request is the original plus exactly our added headers (order aside).
    ParsedRequest expected = parse_http(slurp(dir / "header-signed-request.txt"));
    HttpHeaders ours = c.request.headers;
    ours.insert(ours.end(), r->added_headers.begin(), r->added_headers.end());
    EXPECT_EQ(header_set(ours), header_set(expected.request.headers));
    ++checked;
  }
  EXPECT_EQ(checked, 38);
}

TEST(SigV4Suite, QuerySigningMatchesEveryCase) {
  int checked = 0;
  for (const auto& dir : case_dirs()) {
    SCOPED_TRACE(dir.filename().string());
    Case c = load_case(dir);
    auto r = sigv4_sign_query(c.request, c.credentials, c.options);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->canonical_request, slurp(dir / "query-canonical-request.txt"));
    EXPECT_EQ(r->string_to_sign, slurp(dir / "query-string-to-sign.txt"));
    EXPECT_EQ(r->signature, slurp(dir / "query-signature.txt"));
    ParsedRequest expected = parse_http(slurp(dir / "query-signed-request.txt"));
    EXPECT_EQ(query_set(r->signed_query), query_set(expected.request.query));
    ++checked;
  }
  EXPECT_EQ(checked, 38);
}

TEST(SigV4, DateFormattingAroundLeapDayAndEpoch) {
  EXPECT_EQ(amz_date(0), "19700101T000000Z");
  EXPECT_EQ(amz_date(951782400), "20000229T000000Z");
  EXPECT_EQ(amz_date(1440938160), "20150830T123600Z");
  EXPECT_EQ(*parse_iso8601_utc("2000-02-29T00:00:00Z"), 951782400);
  EXPECT_FALSE(parse_iso8601_utc("2015-08-30 12:36:00Z").ok());
  EXPECT_FALSE(parse_iso8601_utc("2015-13-30T12:36:00Z").ok());
}

TEST(SigV4, SigningKeyMatchesAwsDocumentationExample) {
  // The derived key of AWS's documented example (secret wJalr..., 20120215, us-east-1, iam).
  EXPECT_EQ(
      hex_encode(sigv4_signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")),
      "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, RejectsMissingCredentialsOrRelativePath) {
  HttpRequest req{"GET", "/", "", {{"Host", "example.amazonaws.com"}}, ""};
  SigV4Options o{"us-east-1", "kms", 0};
  EXPECT_EQ(sigv4_sign_headers(req, {"", "secret", ""}, o).code(), ErrorCode::INVALID_ARGUMENT);
  req.path = "relative";
  EXPECT_EQ(sigv4_sign_headers(req, {"AKID", "secret", ""}, o).code(), ErrorCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cpipe::keys
