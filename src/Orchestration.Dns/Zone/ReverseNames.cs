using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using ARSoft.Tools.Net;

namespace Orchestration.Dns.Zone;

/// <summary>Addresses as DNS names: reverse names (in-addr.arpa, ip6.arpa) and the dashed labels of pod and endpoint names.</summary>
internal static class ReverseNames
{
    private const string V4Suffix = "in-addr.arpa";
    private const string V6Suffix = "ip6.arpa";

    /// <summary>The reverse name of an address, lower case, without the trailing dot: 1.0.96.10.in-addr.arpa, or 32 nibbles and ip6.arpa.</summary>
    public static string Of(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var name = new StringBuilder(address.AddressFamily == AddressFamily.InterNetwork ? 29 : 72);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (var i = 3; i >= 0; i--)
            {
                name.Append(bytes[i].ToString(CultureInfo.InvariantCulture)).Append('.');
            }

            return name.Append(V4Suffix).ToString();
        }

        for (var i = 15; i >= 0; i--)
        {
            name.Append(HexDigit(bytes[i] & 0xF)).Append('.').Append(HexDigit(bytes[i] >> 4)).Append('.');
        }

        return name.Append(V6Suffix).ToString();
    }

    /// <summary>Whether a name is under in-addr.arpa or ip6.arpa.</summary>
    public static bool IsReverse(string[] labels) =>
        labels.Length >= 2 && string.Equals(labels[^1], "arpa", StringComparison.OrdinalIgnoreCase) &&
        (string.Equals(labels[^2], "in-addr", StringComparison.OrdinalIgnoreCase) || string.Equals(labels[^2], "ip6", StringComparison.OrdinalIgnoreCase));

    /// <summary>The address a complete reverse name stands for (4 octets, or 32 nibbles).</summary>
    public static bool TryParse(string[] labels, out IPAddress? address)
    {
        address = null;
        if (labels.Length == 6 && string.Equals(labels[4], "in-addr", StringComparison.OrdinalIgnoreCase))
        {
            var bytes = new byte[4];
            for (var i = 0; i < 4; i++)
            {
                if (labels[i].Length is < 1 or > 3 || !byte.TryParse(labels[i], NumberStyles.None, CultureInfo.InvariantCulture, out bytes[3 - i]))
                {
                    return false;
                }
            }

            address = new IPAddress(bytes);
            return true;
        }

        if (labels.Length == 34 && string.Equals(labels[32], "ip6", StringComparison.OrdinalIgnoreCase))
        {
            var bytes = new byte[16];
            for (var i = 0; i < 32; i++)
            {
                if (labels[i].Length != 1 || !int.TryParse(labels[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var nibble))
                {
                    return false;
                }

                var index = 15 - (i / 2);
                bytes[index] |= (byte)(i % 2 == 0 ? nibble : nibble << 4);
            }

            address = new IPAddress(bytes);
            return true;
        }

        return false;
    }

    /// <summary>
    /// The reverse zone that holds a network's names: the network's prefix cut down to whole octets
    /// (IPv4) or nibbles (IPv6), such as 96.10.in-addr.arpa for 10.96.0.0/16 and 10.in-addr.arpa for 10.96.0.0/12.
    /// </summary>
    public static DomainName ZoneOf(IPNetwork network)
    {
        var reverse = Of(network.BaseAddress).Split('.');
        var v4 = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork;
        var kept = v4 ? network.PrefixLength / 8 : network.PrefixLength / 4;
        var total = v4 ? 4 : 32;
        return new DomainName(reverse[(total - kept)..]);
    }

    /// <summary>An address as a DNS label: 10-244-1-5, or 2001-db8--1 (the colons of the compressed form as dashes).</summary>
    public static string Dashed(IPAddress address) => address.ToString().Replace('.', '-').Replace(':', '-');

    /// <summary>The address a dashed label stands for (<see cref="Dashed"/>'s inverse).</summary>
    public static bool TryParseDashed(string label, out IPAddress? address)
    {
        address = null;
        if (label.Length is < 2 or > 45)
        {
            return false;
        }

        var parts = label.Split('-');
        if (parts.Length == 4 && parts.All(p => p.Length is >= 1 and <= 3 && p.All(char.IsAsciiDigit)))
        {
            Span<byte> bytes = stackalloc byte[4];
            for (var i = 0; i < 4; i++)
            {
                if (!byte.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out bytes[i]))
                {
                    return false;
                }
            }

            address = new IPAddress(bytes);
            return true;
        }

        if (parts.Length >= 3 && label.All(c => c == '-' || char.IsAsciiHexDigit(c)) &&
            IPAddress.TryParse(label.Replace('-', ':'), out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
        {
            address = v6;
            return true;
        }

        return false;
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);
}
