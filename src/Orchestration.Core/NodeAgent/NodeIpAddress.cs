using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Orchestration.NodeAgent;

/// <summary>The node's own address when none is configured, as kubelet picks one without <c>--node-ip</c>.</summary>
internal static class NodeIpAddress
{
    /// <summary>The first IPv4 address of an interface that is up and not loopback; 127.0.0.1 when there is none.</summary>
    public static string Detect()
    {
        foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
        {
            if (nic.OperationalStatus != OperationalStatus.Up || nic.NetworkInterfaceType == NetworkInterfaceType.Loopback)
            {
                continue;
            }

            foreach (var address in nic.GetIPProperties().UnicastAddresses)
            {
                if (address.Address.AddressFamily == AddressFamily.InterNetwork)
                {
                    return address.Address.ToString();
                }
            }
        }

        return "127.0.0.1";
    }
}
