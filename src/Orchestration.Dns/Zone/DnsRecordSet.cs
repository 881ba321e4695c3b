using System.Net;
using ARSoft.Tools.Net;

namespace Orchestration.Dns.Zone;

/// <summary>
/// The records of one name, without their owner (answers carry the name as the question spelled it).
/// Immutable: readers take it from the zone's index without a lock while writers replace it.
/// </summary>
internal sealed class DnsRecordSet : IEquatable<DnsRecordSet>
{
    public DnsRecordSet(IPAddress[] a, IPAddress[] aaaa, DomainName? canonicalName, SrvTarget[] srv, DomainName[] ptr, string[] txt)
    {
        A = a;
        Aaaa = aaaa;
        CanonicalName = canonicalName;
        Srv = srv;
        Ptr = ptr;
        Txt = txt;
    }

    /// <summary>A name that exists with no records (a Service whose cluster IP is not assigned yet).</summary>
    public static DnsRecordSet Empty { get; } = new([], [], null, [], [], []);

    public IPAddress[] A { get; }

    public IPAddress[] Aaaa { get; }

    /// <summary>The CNAME target (an ExternalName Service); a name with one has no other records.</summary>
    public DomainName? CanonicalName { get; }

    public SrvTarget[] Srv { get; }

    public DomainName[] Ptr { get; }

    public string[] Txt { get; }

    /// <summary>The union of the records several owners give one name (two headless Services may share a pod's address).</summary>
    public static DnsRecordSet Merge(IReadOnlyList<DnsRecordSet> sets)
    {
        if (sets.Count == 1)
        {
            return sets[0];
        }

        return new DnsRecordSet(
            [.. sets.SelectMany(s => s.A).Distinct()],
            [.. sets.SelectMany(s => s.Aaaa).Distinct()],
            sets.Select(s => s.CanonicalName).FirstOrDefault(c => c is not null),
            [.. sets.SelectMany(s => s.Srv).Distinct()],
            [.. sets.SelectMany(s => s.Ptr).Distinct()],
            [.. sets.SelectMany(s => s.Txt).Distinct()]);
    }

    public bool Equals(DnsRecordSet? other) =>
        other is not null &&
        (ReferenceEquals(this, other) ||
         (A.SequenceEqual(other.A) && Aaaa.SequenceEqual(other.Aaaa) && Equals(CanonicalName, other.CanonicalName) &&
          Srv.SequenceEqual(other.Srv) && Ptr.SequenceEqual(other.Ptr) && Txt.SequenceEqual(other.Txt)));

    public override bool Equals(object? obj) => Equals(obj as DnsRecordSet);

    public override int GetHashCode() => HashCode.Combine(A.Length, Aaaa.Length, CanonicalName, Srv.Length, Ptr.Length);
}
