using System.Buffers.Binary;
using System.Net;

namespace Orchestration.Networking;

/// <summary>IPv4 arithmetic the allocators share: addresses by their offset in a network.</summary>
internal static class Ipv4
{
    /// <summary>The address <paramref name="offset"/> places after the network's base address.</summary>
    public static IPAddress AddressAt(IPNetwork network, long offset)
    {
        var value = BinaryPrimitives.ReadUInt32BigEndian(network.BaseAddress.GetAddressBytes()) + (uint)offset;
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    /// <summary>How many addresses the network holds.</summary>
    public static long Size(IPNetwork network) => 1L << (32 - network.PrefixLength);
}
