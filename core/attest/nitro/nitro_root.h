// The pinned trust anchor of AWS Nitro Enclaves attestation: the AWS Nitro Enclaves Root G1
// certificate (CN=aws.nitro-enclaves, valid 2019-10-28 .. 2049-10-28), built into the library.
#pragma once

#include <string_view>

#include "core/base/bytes.h"
#include "core/base/status.h"

namespace cpipe::attest::nitro {

// PEM exactly as AWS publishes it (AWS_NitroEnclaves_Root-G1).
extern const std::string_view kAwsNitroRootG1Pem;
// Upper-case hex SHA-256 of the DER certificate (AWS's published fingerprint).
inline constexpr std::string_view kAwsNitroRootG1Sha256 =
    "641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B";

// The DER of the built-in root, checked against kAwsNitroRootG1Sha256 (INTERNAL if the
// embedded constant was ever corrupted).
Result<Bytes> aws_nitro_root_g1_der();

// The first certificate of a PEM text as DER (ATTEST_BAD_FORMAT when there is none).
Result<Bytes> pem_certificate_to_der(std::string_view pem);

}  // namespace cpipe::attest::nitro
