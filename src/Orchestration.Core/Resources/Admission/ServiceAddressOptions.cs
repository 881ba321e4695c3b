using System.Net;

namespace Orchestration.Resources.Admission;

/// <summary>Where Services get their cluster IPs and node ports from.</summary>
public sealed class ServiceAddressOptions
{
    /// <summary>The service CIDR (Kubernetes's default is 10.96.0.0/12); its first address is the <c>kubernetes</c> service's.</summary>
    public string ServiceCidr { get; set; } = "10.96.0.0/12";

    /// <summary>The lowest node port.</summary>
    public int NodePortMin { get; set; } = 30000;

    /// <summary>The highest node port.</summary>
    public int NodePortMax { get; set; } = 32767;

    /// <summary>The parsed service network.</summary>
    public IPNetwork Network => IPNetwork.Parse(ServiceCidr);
}
