using System.Globalization;
using System.Net;
using System.Text;

namespace Orchestration.Dns;

/// <summary>
/// A resolver configuration in the <c>resolv.conf(5)</c> format: nameservers, search domains and
/// options. The cluster DNS server reads the node's to find its upstreams; the node agent writes one
/// for each pod from its <c>dnsPolicy</c>.
/// </summary>
public sealed class ResolvConf
{
    /// <summary>Where the system keeps its resolver configuration.</summary>
    public const string DefaultPath = "/etc/resolv.conf";

    /// <summary>Creates a configuration.</summary>
    public ResolvConf(IEnumerable<IPAddress> nameservers, IEnumerable<string>? searches = null, IEnumerable<string>? options = null)
    {
        ArgumentNullException.ThrowIfNull(nameservers);
        Nameservers = [.. nameservers];
        Searches = [.. searches ?? []];
        Options = [.. options ?? []];
    }

    /// <summary>The nameservers, in the order they are tried.</summary>
    public IReadOnlyList<IPAddress> Nameservers { get; }

    /// <summary>The search domains, in order (from the last <c>search</c> or <c>domain</c> line).</summary>
    public IReadOnlyList<string> Searches { get; }

    /// <summary>The options as written, such as <c>ndots:5</c> or <c>edns0</c>.</summary>
    public IReadOnlyList<string> Options { get; }

    /// <summary>The <c>ndots</c> option: names with fewer dots are tried with the search domains first. 1 when absent.</summary>
    public int Ndots => OptionValue("ndots") ?? 1;

    /// <summary>The value of a numeric option such as <c>ndots</c>, <c>timeout</c> or <c>attempts</c> (the last one wins), or null.</summary>
    public int? OptionValue(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        int? value = null;
        foreach (var option in Options)
        {
            if (option.Length > name.Length && option[name.Length] == ':' && option.StartsWith(name, StringComparison.Ordinal) &&
                int.TryParse(option.AsSpan(name.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                value = parsed;
            }
        }

        return value;
    }

    /// <summary>The nameservers as endpoints on <paramref name="port"/>, to use as <see cref="ClusterDnsOptions.Upstreams"/>.</summary>
    public IReadOnlyList<IPEndPoint> NameserverEndPoints(int port = 53) => [.. Nameservers.Select(a => new IPEndPoint(a, port))];

    /// <summary>
    /// Reads a configuration as glibc does: <c>nameserver</c> lines in order (addresses that do not
    /// parse are skipped), the last <c>search</c> or <c>domain</c> line for the search list, every
    /// <c>options</c> line; comments start with <c>#</c> or <c>;</c>; other keywords are ignored.
    /// </summary>
    public static ResolvConf Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var nameservers = new List<IPAddress>();
        string[] searches = [];
        var options = new List<string>();
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine;
            var comment = line.IndexOfAny(['#', ';']);
            if (comment >= 0)
            {
                line = line[..comment];
            }

            var words = line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (words.Length < 2)
            {
                continue;
            }

            switch (words[0])
            {
                case "nameserver":
                    if (IPAddress.TryParse(words[1], out var address))
                    {
                        nameservers.Add(address);
                    }

                    break;
                case "search":
                    searches = words[1..];
                    break;
                case "domain":
                    searches = [words[1]];
                    break;
                case "options":
                    options.AddRange(words[1..]);
                    break;
            }
        }

        return new ResolvConf(nameservers, searches, options);
    }

    /// <summary>Reads the file at <paramref name="path"/> (by default the system's).</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static async Task<ResolvConf> LoadAsync(string path = DefaultPath, CancellationToken cancellationToken = default) =>
        Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));

    /// <summary>The configuration in the <c>resolv.conf</c> format, one line per nameserver, then search and options.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        foreach (var nameserver in Nameservers)
        {
            text.Append("nameserver ").Append(nameserver).Append('\n');
        }

        if (Searches.Count > 0)
        {
            text.Append("search ").AppendJoin(' ', Searches).Append('\n');
        }

        if (Options.Count > 0)
        {
            text.Append("options ").AppendJoin(' ', Options).Append('\n');
        }

        return text.ToString();
    }
}
