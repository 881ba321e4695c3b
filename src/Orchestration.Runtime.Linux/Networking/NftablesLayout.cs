using System.Globalization;

namespace Orchestration.Runtime.Linux.Networking;

/// <summary>
/// Which tables hold the proxy's rules: a main table named <see cref="Prefix"/> (what every packet or
/// every Service shares) and <see cref="Shards"/> shard tables <c>PREFIX-0</c> ... holding the
/// Service ports, each port in the shard that a stable hash of its name picks. The kernel validates
/// a whole table (every rule reachable from its base chains) in each transaction that adds a jump,
/// a goto or a DNAT to it, so a change costs the size of one shard instead of the whole ruleset.
/// The shard count is chosen at a full sync from the number of ports and kept until the next one.
/// </summary>
internal sealed class NftablesLayout
{
    /// <summary>How many Service ports a shard is sized for when the layout is chosen.</summary>
    public const int PortsPerShard = 256;

    /// <summary>The fewest shard tables.</summary>
    public const int MinShards = 4;

    /// <summary>
    /// The most shard tables: every new connection is looked up once in each shard's NAT chains, and
    /// nft 1.0's <c>list ruleset</c> fetches every rule once per table.
    /// </summary>
    public const int MaxShards = 64;

    /// <summary>How many times over its shards may fill up before a change sync lays the tables out again.</summary>
    public const int OutgrownFactor = 4;

    private readonly string[] _shardTables;

    public NftablesLayout(string prefix, int shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shards, 1);
        Prefix = prefix;
        Shards = shards;
        _shardTables = Enumerable.Range(0, shards).Select(i => $"{prefix}-{i.ToString(CultureInfo.InvariantCulture)}").ToArray();
    }

    /// <summary>The main table's name, which also begins every shard table's name.</summary>
    public string Prefix { get; }

    /// <summary>How many shard tables there are.</summary>
    public int Shards { get; }

    /// <summary>The shard tables, by index.</summary>
    public IReadOnlyList<string> ShardTables => _shardTables;

    /// <summary>The main table and the shard tables.</summary>
    public IEnumerable<string> Tables => _shardTables.Prepend(Prefix);

    /// <summary>The layout for <paramref name="ports"/> Service ports.</summary>
    public static NftablesLayout For(string prefix, int ports) =>
        new(prefix, Math.Clamp((ports + PortsPerShard - 1) / PortsPerShard, MinShards, MaxShards));

    /// <summary>Whether <paramref name="table"/> is a table of a proxy whose table name is <paramref name="prefix"/>, in this layout or any other.</summary>
    public static bool Owns(string prefix, string table) =>
        table == prefix
        || (table.Length > prefix.Length + 1
            && table.StartsWith(prefix, StringComparison.Ordinal)
            && table[prefix.Length] == '-'
            && table.AsSpan(prefix.Length + 1).IndexOfAnyExceptInRange('0', '9') < 0);

    /// <summary>Whether <paramref name="ports"/> Service ports have outgrown the shards, so that a change would cost more than it should.</summary>
    public bool Outgrown(int ports) => Shards < MaxShards && ports > (long)Shards * PortsPerShard * OutgrownFactor;

    /// <summary>The table of a Service port's chains, sets and service map elements.</summary>
    public string TableOf(PortProgram program) => _shardTables[program.ShardKey % (uint)_shardTables.Length];

    /// <summary>The table of one of a Service port's map elements: the main table's for Service ports without endpoints, else its shard's.</summary>
    public string TableOf(PortProgram program, NftElement element) => NftablesRuleset.IsMainMap(element.Map) ? Prefix : TableOf(program);
}
