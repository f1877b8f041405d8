// nftables' own library (Debian: libnftables-dev), which the `nft` tool is built on.
#include <nftables/libnftables.h>
