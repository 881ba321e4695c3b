using System.Collections.Concurrent;
using System.Net;
using ARSoft.Tools.Net;
using ARSoft.Tools.Net.Dns;
using k8s.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orchestration.Dns.Zone;

namespace Orchestration.Dns;

/// <summary>
/// The cluster's DNS data (the Kubernetes DNS-Based Service Discovery specification, schema 1.1.0),
/// kept up to date by the Service and EndpointSlice informers' events: A/AAAA, SRV and PTR records
/// of ClusterIP Services, the ready endpoints of headless Services (and their hostnames), CNAMEs of
/// ExternalName Services, <c>dns-version</c>, and pod names (<c>a-b-c-d.&lt;ns&gt;.pod</c>).
/// </summary>
/// <remarks>
/// Thread-safe. Changes are serialized and replace the immutable record sets of the names they touch;
/// lookups read those without a lock, so answering does not wait for an update. Events may come in
/// any order: an EndpointSlice seen before its Service is kept until the Service comes.
/// </remarks>
public sealed partial class ClusterDnsZone
{
    /// <summary>The schema version served in the <c>dns-version</c> TXT record.</summary>
    public const string SchemaVersion = "1.1.0";

    private const int MaxCanonicalNameChain = 8;

    private readonly DomainName _apex;
    private readonly string _apexKey;
    private readonly string[] _apexLabels;
    private readonly int _ttl;
    private readonly bool _podRecords;
    private readonly IPNetwork[] _reverseAuthority;
    private readonly DomainName _soaMaster;
    private readonly DomainName _soaResponsible;
    private readonly string _versionKey;
    private readonly DnsRecordSet _version = new([], [], null, [], [], [SchemaVersion]);
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;

    // Read side: lock-free.
    private readonly ConcurrentDictionary<string, DnsRecordSet> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, int> _interior = new(StringComparer.OrdinalIgnoreCase);
    private long _serial;

    // Write side: under _write.
    private readonly Lock _write = new();
    private readonly Dictionary<ObjectName, ServiceState> _services = [];
    private readonly Dictionary<ObjectName, string> _sliceServices = [];
    private readonly Dictionary<string, List<(ObjectName Owner, DnsRecordSet Records)>> _contributions = new(StringComparer.Ordinal);

    /// <summary>Creates an empty zone for the configured cluster domain.</summary>
    public ClusterDnsZone(IOptions<ClusterDnsOptions> options, TimeProvider timeProvider, ILogger<ClusterDnsZone> logger)
        : this(options?.Value!, timeProvider, logger)
    {
    }

    /// <summary>Creates an empty zone for <see cref="ClusterDnsOptions.ClusterDomain"/> (<c>new ClusterDnsOptions()</c>: <c>cluster.local</c>, TTL 30 seconds).</summary>
    /// <exception cref="ArgumentException"><see cref="ClusterDnsOptions.ClusterDomain"/> is not a domain name.</exception>
    public ClusterDnsZone(ClusterDnsOptions options, TimeProvider? timeProvider = null, ILogger<ClusterDnsZone>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!DomainName.TryParse(options.ClusterDomain ?? "", out var apex) || apex!.LabelCount == 0)
        {
            throw new ArgumentException($"ClusterDnsOptions.ClusterDomain \"{options.ClusterDomain}\" is not a domain name (such as cluster.local)", nameof(options));
        }

        _apexLabels = [.. apex.Labels.Select(l => l.ToLowerInvariant())];
        _apex = new DomainName(_apexLabels);
        _apexKey = string.Join('.', _apexLabels);
        _ttl = (int)Math.Clamp(options.Ttl.TotalSeconds, 0, int.MaxValue);
        _podRecords = options.PodRecords;
        _reverseAuthority = [.. options.ServiceCidrs, .. options.PodCidrs];
        _soaMaster = new DomainName(["ns", "dns", .. _apexLabels]);
        _soaResponsible = new DomainName(["hostmaster", .. _apexLabels]);
        _versionKey = "dns-version." + _apexKey;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _serial = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
    }

    /// <summary>The cluster domain, in lower case and without the trailing dot (such as <c>cluster.local</c>).</summary>
    public string Domain => _apexKey;

    /// <summary>How many Services the zone holds.</summary>
    public int ServiceCount
    {
        get
        {
            lock (_write)
            {
                return _services.Values.Count(s => s.Service is not null);
            }
        }
    }

    /// <summary>
    /// Adds or replaces a Service's records (an informer's add or update). A ClusterIP Service gets
    /// A/AAAA for its cluster IPs, SRV for its named ports and PTR for its addresses; a headless one
    /// the records of its ready endpoints; an ExternalName one a CNAME.
    /// </summary>
    public void SetService(V1Service service)
    {
        ArgumentNullException.ThrowIfNull(service);
        var info = ServiceInfo.From(service);
        if (info.InvalidExternalName is { } invalid)
        {
            LogInvalidExternalName(info.Namespace, info.Name, invalid);
        }

        var key = new ObjectName(info.Namespace, info.Name);
        lock (_write)
        {
            var state = StateOf(key);
            state.Service = info;
            Republish(key, state);
        }
    }

    /// <summary>Removes a Service's records (an informer's delete). Its EndpointSlices are kept until they are removed.</summary>
    /// <returns>Whether the zone held the Service.</returns>
    public bool RemoveService(string @namespace, string name)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(name);
        var key = new ObjectName(@namespace.ToLowerInvariant(), name.ToLowerInvariant());
        lock (_write)
        {
            if (!_services.TryGetValue(key, out var state) || state.Service is null)
            {
                return false;
            }

            state.Service = null;
            Republish(key, state);
            return true;
        }
    }

    /// <summary>
    /// Adds or replaces an EndpointSlice (an informer's add or update). It belongs to the Service its
    /// <c>kubernetes.io/service-name</c> label names; only headless Services publish endpoints.
    /// A slice without the label is ignored (and forgotten, if it had one before).
    /// </summary>
    public void SetEndpointSlice(V1EndpointSlice slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        var sliceName = ServiceInfo.Lower(slice.Metadata?.Name) ?? throw new ArgumentException("The EndpointSlice has no metadata.name", nameof(slice));
        var @namespace = ServiceInfo.Lower(slice.Metadata?.NamespaceProperty) ?? "default";
        var info = SliceInfo.From(slice);
        var sliceKey = new ObjectName(@namespace, sliceName);
        lock (_write)
        {
            if (_sliceServices.TryGetValue(sliceKey, out var previous) && (info is null || previous != info.Service))
            {
                DetachSlice(new ObjectName(@namespace, previous), sliceName);
                _sliceServices.Remove(sliceKey);
            }

            if (info is null)
            {
                return;
            }

            _sliceServices[sliceKey] = info.Service;
            var serviceKey = new ObjectName(@namespace, info.Service);
            var state = StateOf(serviceKey);
            state.Slices[sliceName] = info;
            if (state.Service?.Kind == ServiceKind.Headless)
            {
                Republish(serviceKey, state);
            }
        }
    }

    /// <summary>Removes an EndpointSlice (an informer's delete).</summary>
    /// <returns>Whether the zone held the slice.</returns>
    public bool RemoveEndpointSlice(string @namespace, string name)
    {
        ArgumentNullException.ThrowIfNull(@namespace);
        ArgumentNullException.ThrowIfNull(name);
        var sliceKey = new ObjectName(@namespace.ToLowerInvariant(), name.ToLowerInvariant());
        lock (_write)
        {
            if (!_sliceServices.Remove(sliceKey, out var service))
            {
                return false;
            }

            DetachSlice(new ObjectName(sliceKey.Namespace, service), sliceKey.Name);
            return true;
        }
    }

    /// <summary>Forgets every Service and EndpointSlice (before an informer's relist is replayed).</summary>
    public void Clear()
    {
        lock (_write)
        {
            foreach (var (key, state) in _services.ToList())
            {
                state.Service = null;
                state.Slices.Clear();
                Republish(key, state);
            }

            _sliceServices.Clear();
        }
    }

    /// <summary>
    /// Answers a question whose name is in the cluster domain, or a reverse name this zone holds or
    /// is authoritative for (<see cref="ClusterDnsOptions.ServiceCidrs"/>, <see cref="ClusterDnsOptions.PodCidrs"/>);
    /// null for any other name, which belongs upstream.
    /// </summary>
    internal ZoneAnswer? Answer(DomainName name, RecordType type)
    {
        var labels = name.Labels;
        if (IsInZone(labels))
        {
            var answer = new ZoneAnswer();
            Resolve(name, type, answer, 0);
            return answer;
        }

        if (ReverseNames.IsReverse(labels))
        {
            return AnswerReverse(name, type);
        }

        return null;
    }

    private void Resolve(DomainName name, RecordType type, ZoneAnswer answer, int depth)
    {
        var labels = name.Labels;
        var relative = labels.Length - _apexLabels.Length;
        if (relative == 0)
        {
            AnswerApex(name, type, answer);
            return;
        }

        var key = Key(labels);
        if (key is not null && (_names.TryGetValue(key, out var records) || TryVersion(key, out records)))
        {
            AddRecords(name, type, records, answer, depth);
            return;
        }

        var kind = relative >= 1 ? labels[relative - 1] : "";
        if (_podRecords && relative == 3 && string.Equals(kind, "pod", StringComparison.OrdinalIgnoreCase) && ReverseNames.TryParseDashed(labels[0], out var podAddress))
        {
            var podRecords = podAddress!.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
                ? new DnsRecordSet([podAddress], [], null, [], [], [])
                : new DnsRecordSet([], [podAddress], null, [], [], []);
            AddRecords(name, type, podRecords, answer, depth);
            return;
        }

        // Names with names below them exist without records of their own (RFC 8020): svc, pod,
        // a namespace's svc and pod, a Service's _tcp.
        var exists = (relative == 1 && (string.Equals(kind, "svc", StringComparison.OrdinalIgnoreCase) || string.Equals(kind, "pod", StringComparison.OrdinalIgnoreCase))) ||
            (relative == 2 && _podRecords && string.Equals(kind, "pod", StringComparison.OrdinalIgnoreCase)) ||
            (key is not null && _interior.ContainsKey(key));
        answer.ReturnCode = exists ? ReturnCode.NoError : ReturnCode.NxDomain;
        answer.Authority.Add(Soa(_apex));
    }

    private bool TryVersion(string key, out DnsRecordSet records)
    {
        records = _version;
        return string.Equals(key, _versionKey, StringComparison.OrdinalIgnoreCase);
    }

    private void AnswerApex(DomainName name, RecordType type, ZoneAnswer answer)
    {
        if (type is RecordType.Soa or RecordType.Any)
        {
            answer.Answers.Add(Soa(name));
        }

        if (type is RecordType.Ns or RecordType.Any)
        {
            answer.Answers.Add(new NsRecord(name, _ttl, _soaMaster));
        }

        if (answer.Answers.Count == 0)
        {
            answer.Authority.Add(Soa(_apex));
        }
    }

    private ZoneAnswer? AnswerReverse(DomainName name, RecordType type)
    {
        var key = Key(name.Labels);
        var authority = ReverseNames.TryParse(name.Labels, out var address) ? AuthorityFor(address!) : null;
        var answer = new ZoneAnswer();
        if (key is not null && _names.TryGetValue(key, out var records))
        {
            AddRecords(name, type, records, answer, 0);
            if (answer.Answers.Count == 0)
            {
                answer.Authority.Clear();
                answer.Authority.Add(Soa(authority is { } n ? ReverseNames.ZoneOf(n) : name.GetParentName(name.LabelCount - 2)));
            }

            return answer;
        }

        if (authority is { } network)
        {
            answer.ReturnCode = ReturnCode.NxDomain;
            answer.Authority.Add(Soa(ReverseNames.ZoneOf(network)));
            return answer;
        }

        return null;
    }

    /// <summary>The configured Service or pod range that holds an address, if one does.</summary>
    private IPNetwork? AuthorityFor(IPAddress address)
    {
        foreach (var network in _reverseAuthority)
        {
            if (network.Contains(address))
            {
                return network;
            }
        }

        return null;
    }

    private void AddRecords(DomainName owner, RecordType type, DnsRecordSet records, ZoneAnswer answer, int depth)
    {
        if (records.CanonicalName is { } target)
        {
            answer.Answers.Add(new CNameRecord(owner, _ttl, target));
            if (type is RecordType.CName or RecordType.Any)
            {
                return;
            }

            if (IsInZone(target.Labels))
            {
                if (depth < MaxCanonicalNameChain)
                {
                    Resolve(target, type, answer, depth + 1);
                }
            }
            else
            {
                answer.ExternalTarget = target;
            }

            return;
        }

        var before = answer.Answers.Count;
        if (type is RecordType.A or RecordType.Any)
        {
            foreach (var address in records.A)
            {
                answer.Answers.Add(new ARecord(owner, _ttl, address));
            }
        }

        if (type is RecordType.Aaaa or RecordType.Any)
        {
            foreach (var address in records.Aaaa)
            {
                answer.Answers.Add(new AaaaRecord(owner, _ttl, address));
            }
        }

        if (type is RecordType.Srv or RecordType.Any)
        {
            foreach (var srv in records.Srv)
            {
                answer.Answers.Add(new SrvRecord(owner, _ttl, srv.Priority, srv.Weight, srv.Port, srv.Target));
            }

            AddTargetAddresses(records.Srv, answer);
        }

        if (type is RecordType.Ptr or RecordType.Any)
        {
            foreach (var pointer in records.Ptr)
            {
                answer.Answers.Add(new PtrRecord(owner, _ttl, pointer));
            }
        }

        if (type is RecordType.Txt or RecordType.Any)
        {
            foreach (var text in records.Txt)
            {
                answer.Answers.Add(new TxtRecord(owner, _ttl, text));
            }
        }

        if (answer.Answers.Count == before)
        {
            answer.Authority.Add(Soa(_apex));
        }
    }

    /// <summary>The addresses of SRV targets, for the additional section (saves the client a query per target).</summary>
    private void AddTargetAddresses(SrvTarget[] targets, ZoneAnswer answer)
    {
        DomainName? previous = null;
        foreach (var srv in targets)
        {
            if (srv.Target.Equals(previous) || Key(srv.Target.Labels) is not { } key || !_names.TryGetValue(key, out var records))
            {
                continue;
            }

            previous = srv.Target;
            foreach (var address in records.A)
            {
                answer.Additional.Add(new ARecord(srv.Target, _ttl, address));
            }

            foreach (var address in records.Aaaa)
            {
                answer.Additional.Add(new AaaaRecord(srv.Target, _ttl, address));
            }
        }
    }

    private SoaRecord Soa(DomainName owner) =>
        new(owner, _ttl, _soaMaster, _soaResponsible, (uint)Interlocked.Read(ref _serial), 7200, 1800, 86400, _ttl);

    private bool IsInZone(string[] labels)
    {
        if (labels.Length < _apexLabels.Length)
        {
            return false;
        }

        var offset = labels.Length - _apexLabels.Length;
        for (var i = 0; i < _apexLabels.Length; i++)
        {
            if (!string.Equals(labels[offset + i], _apexLabels[i], StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The index key of a name; null when a label holds a dot, which no name of the zone does.</summary>
    private static string? Key(string[] labels)
    {
        foreach (var label in labels)
        {
            if (label.Contains('.', StringComparison.Ordinal))
            {
                return null;
            }
        }

        return string.Join('.', labels);
    }

    private ServiceState StateOf(ObjectName key)
    {
        if (!_services.TryGetValue(key, out var state))
        {
            state = new ServiceState();
            _services.Add(key, state);
        }

        return state;
    }

    private void DetachSlice(ObjectName service, string sliceName)
    {
        if (_services.TryGetValue(service, out var state) && state.Slices.Remove(sliceName))
        {
            Republish(service, state);
        }
    }

    /// <summary>Brings the names a Service contributes in line with its current Service and slices.</summary>
    private void Republish(ObjectName key, ServiceState state)
    {
        var desired = state.Service is { } service ? ServiceRecords.Build(service, state.Slices.Values, _apexLabels) : [];
        var changed = false;
        foreach (var name in state.Published.Keys)
        {
            if (!desired.ContainsKey(name))
            {
                Withdraw(name, key);
                changed = true;
            }
        }

        foreach (var (name, records) in desired)
        {
            if (state.Published.TryGetValue(name, out var published) && published.Equals(records))
            {
                continue;
            }

            Contribute(name, key, records);
            changed = true;
        }

        state.Published = desired;
        if (state.Service is null && state.Slices.Count == 0)
        {
            _services.Remove(key);
        }

        if (changed)
        {
            var now = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
            if (now > Interlocked.Read(ref _serial))
            {
                Interlocked.Exchange(ref _serial, now);
            }
        }
    }

    private void Contribute(string name, ObjectName owner, DnsRecordSet records)
    {
        if (!_contributions.TryGetValue(name, out var contributions))
        {
            contributions = [];
            _contributions.Add(name, contributions);
            CountInterior(name, +1);
        }

        var index = contributions.FindIndex(c => c.Owner == owner);
        if (index >= 0)
        {
            contributions[index] = (owner, records);
        }
        else
        {
            contributions.Add((owner, records));
        }

        _names[name] = DnsRecordSet.Merge([.. contributions.Select(c => c.Records)]);
    }

    private void Withdraw(string name, ObjectName owner)
    {
        if (!_contributions.TryGetValue(name, out var contributions))
        {
            return;
        }

        contributions.RemoveAll(c => c.Owner == owner);
        if (contributions.Count == 0)
        {
            _contributions.Remove(name);
            _names.TryRemove(name, out _);
            CountInterior(name, -1);
        }
        else
        {
            _names[name] = DnsRecordSet.Merge([.. contributions.Select(c => c.Records)]);
        }
    }

    /// <summary>Counts the names below each name between a zone name and the apex (empty non-terminals exist: NODATA, not NXDOMAIN).</summary>
    private void CountInterior(string name, int delta)
    {
        if (!name.EndsWith("." + _apexKey, StringComparison.Ordinal))
        {
            return;
        }

        var ancestor = name;
        while (true)
        {
            var dot = ancestor.IndexOf('.', StringComparison.Ordinal);
            ancestor = ancestor[(dot + 1)..];
            if (ancestor.Length <= _apexKey.Length)
            {
                return;
            }

            var count = _interior.AddOrUpdate(ancestor, delta, (_, c) => c + delta);
            if (count <= 0)
            {
                _interior.TryRemove(ancestor, out _);
            }
        }
    }

    [LoggerMessage(EventId = 5020, Level = LogLevel.Warning, Message = "ExternalName Service {Namespace}/{Service} has externalName \"{ExternalName}\", which is not a domain name: it gets no CNAME until it names a host such as www.example.com")]
    private partial void LogInvalidExternalName(string @namespace, string service, string externalName);

    private readonly record struct ObjectName(string Namespace, string Name);

    private sealed class ServiceState
    {
        public ServiceInfo? Service { get; set; }

        public Dictionary<string, SliceInfo> Slices { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, DnsRecordSet> Published { get; set; } = new(StringComparer.Ordinal);
    }
}
