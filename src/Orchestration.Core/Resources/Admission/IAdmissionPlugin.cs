namespace Orchestration.Resources.Admission;

/// <summary>A step of the admission chain that every write passes, after the object's defaults and before its kind's checks and the store.</summary>
public interface IAdmissionPlugin
{
    /// <summary>The plugin's name (<c>NamespaceLifecycle</c>), for messages.</summary>
    string Name { get; }
}

/// <summary>
/// An admission plugin that may change the object (<see cref="AdmissionRequest.Object"/>) or refuse
/// it. Mutating plugins run first, in registration order.
/// </summary>
public interface IMutatingAdmissionPlugin : IAdmissionPlugin
{
    /// <summary>Changes or refuses the write; side effects are undone through <see cref="AdmissionRequest.OnAbort"/> if the write does not happen.</summary>
    /// <exception cref="Client.ClusterApiException">The write is refused; the client gets this Status.</exception>
    ValueTask AdmitAsync(AdmissionRequest request, CancellationToken cancellationToken);
}

/// <summary>An admission plugin that may only refuse the write; validating plugins run after every mutating one, in registration order.</summary>
public interface IValidatingAdmissionPlugin : IAdmissionPlugin
{
    /// <summary>Refuses the write by throwing, or lets it pass.</summary>
    /// <exception cref="Client.ClusterApiException">The write is refused; the client gets this Status.</exception>
    ValueTask ValidateAsync(AdmissionRequest request, CancellationToken cancellationToken);
}
