// SIMULATION-ONLY private keys of the simulated AMD ARK and ASK (RSA-4096, PKCS#8 PEM). They are
// published in this repository: never trust a chain that ends in them outside the simulator.
#pragma once

#include <string_view>

namespace cpipe::sim {

std::string_view sim_ark_private_key_pem();
std::string_view sim_ask_private_key_pem();

}  // namespace cpipe::sim
