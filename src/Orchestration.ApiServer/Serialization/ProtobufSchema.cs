using System.Collections.Frozen;

namespace Orchestration.ApiServer.Serialization;

/// <summary>One field of a protobuf message: its number, JSON name and type.</summary>
/// <param name="Number">The field number.</param>
/// <param name="JsonName">The JSON name.</param>
/// <param name="Type">A scalar (string, bytes, int32, int64, bool, double), a special (Time, MicroTime, Quantity, IntOrString, RawJSON), <c>map&lt;string,T&gt;</c>, or a message name.</param>
/// <param name="Repeated">Whether the field repeats.</param>
/// <param name="Inline">Whether the message's fields sit in the parent's JSON object (Go's <c>json:",inline"</c>).</param>
/// <param name="Pointer">Whether Go holds the field as a pointer: written only when set, so its zero value is meant.</param>
public sealed record ProtobufField(int Number, string JsonName, string Type, bool Repeated, bool Inline, bool Pointer)
{
    /// <summary>Whether repeated values of this type may come packed.</summary>
    public bool IsPackable => Type is "int32" or "int64" or "bool" or "double";
}

/// <summary>A protobuf message of the Kubernetes API.</summary>
/// <param name="Name">The message name.</param>
/// <param name="Fields">Its fields by number.</param>
public sealed record ProtobufMessage(string Name, IReadOnlyDictionary<int, ProtobufField> Fields);

/// <summary>
/// The field numbers of the Kubernetes API messages that kubectl's typed creates send, from the
/// API's <c>generated.proto</c> files (Kubernetes 1.33; the same numbers since 1.30): core, apps, batch, RBAC, quotas and the review kinds. Status
/// fields are listed as <see cref="Ignored"/>: a create's status is the server's to set, so it is
/// skipped unread.
/// </summary>
public sealed class ProtobufSchema
{
    // One message per line: "Name: number jsonName type [repeated] [inline] [pointer]; ...".
    // "pointer" marks Go pointer fields: written only when set, so a zero value there was meant.
    private const string Table = """
        ObjectMeta: 1 name string; 2 generateName string; 3 namespace string; 4 selfLink string; 5 uid string; 6 resourceVersion string; 7 generation int64; 8 creationTimestamp Time; 9 deletionTimestamp Time; 10 deletionGracePeriodSeconds int64 pointer; 11 labels map<string,string>; 12 annotations map<string,string>; 13 ownerReferences OwnerReference repeated; 14 finalizers string repeated; 17 managedFields ManagedFieldsEntry repeated
        OwnerReference: 5 apiVersion string; 1 kind string; 3 name string; 4 uid string; 6 controller bool pointer; 7 blockOwnerDeletion bool pointer
        ManagedFieldsEntry: 1 manager string; 2 operation string; 3 apiVersion string; 4 time Time; 6 fieldsType string; 7 fieldsV1 RawJSON; 8 subresource string
        LabelSelector: 1 matchLabels map<string,string>; 2 matchExpressions LabelSelectorRequirement repeated
        LabelSelectorRequirement: 1 key string; 2 operator string; 3 values string repeated
        Namespace: 1 metadata ObjectMeta; 2 spec NamespaceSpec; 3 status Ignored
        NamespaceSpec: 1 finalizers string repeated
        ConfigMap: 1 metadata ObjectMeta; 4 immutable bool pointer; 2 data map<string,string>; 3 binaryData map<string,bytes>
        Secret: 1 metadata ObjectMeta; 5 immutable bool pointer; 2 data map<string,bytes>; 4 stringData map<string,string>; 3 type string
        ServiceAccount: 1 metadata ObjectMeta; 2 secrets ObjectReference repeated; 3 imagePullSecrets LocalObjectReference repeated; 4 automountServiceAccountToken bool pointer
        ObjectReference: 1 kind string; 2 namespace string; 3 name string; 4 uid string; 5 apiVersion string; 6 resourceVersion string; 7 fieldPath string
        LocalObjectReference: 1 name string
        Service: 1 metadata ObjectMeta; 2 spec ServiceSpec; 3 status Ignored
        ServiceSpec: 1 ports ServicePort repeated; 2 selector map<string,string>; 3 clusterIP string; 18 clusterIPs string repeated; 4 type string; 5 externalIPs string repeated; 7 sessionAffinity string; 8 loadBalancerIP string; 9 loadBalancerSourceRanges string repeated; 10 externalName string; 11 externalTrafficPolicy string; 12 healthCheckNodePort int32; 13 publishNotReadyAddresses bool; 19 ipFamilies string repeated; 17 ipFamilyPolicy string pointer; 20 allocateLoadBalancerNodePorts bool pointer; 21 loadBalancerClass string pointer; 22 internalTrafficPolicy string pointer; 23 trafficDistribution string pointer
        ServicePort: 1 name string; 2 protocol string; 6 appProtocol string pointer; 3 port int32; 4 targetPort IntOrString; 5 nodePort int32
        Pod: 1 metadata ObjectMeta; 2 spec PodSpec; 3 status Ignored
        PodTemplateSpec: 1 metadata ObjectMeta; 2 spec PodSpec
        PodSpec: 1 volumes Volume repeated; 20 initContainers Container repeated; 2 containers Container repeated; 3 restartPolicy string; 4 terminationGracePeriodSeconds int64 pointer; 5 activeDeadlineSeconds int64 pointer; 6 dnsPolicy string; 7 nodeSelector map<string,string>; 8 serviceAccountName string; 9 serviceAccount string; 21 automountServiceAccountToken bool pointer; 10 nodeName string; 11 hostNetwork bool; 12 hostPID bool; 13 hostIPC bool; 27 shareProcessNamespace bool pointer; 15 imagePullSecrets LocalObjectReference repeated; 16 hostname string; 17 subdomain string; 19 schedulerName string; 24 priorityClassName string; 25 priority int32 pointer; 29 runtimeClassName string pointer; 30 enableServiceLinks bool pointer; 31 preemptionPolicy string pointer; 35 setHostnameAsFQDN bool pointer; 37 hostUsers bool pointer
        Container: 1 name string; 2 image string; 3 command string repeated; 4 args string repeated; 5 workingDir string; 6 ports ContainerPort repeated; 7 env EnvVar repeated; 8 resources ResourceRequirements; 24 restartPolicy string pointer; 9 volumeMounts VolumeMount repeated; 10 livenessProbe Probe; 11 readinessProbe Probe; 22 startupProbe Probe; 13 terminationMessagePath string; 20 terminationMessagePolicy string; 14 imagePullPolicy string; 16 stdin bool; 17 stdinOnce bool; 18 tty bool
        ContainerPort: 1 name string; 2 hostPort int32; 3 containerPort int32; 4 protocol string; 5 hostIP string
        EnvVar: 1 name string; 2 value string; 3 valueFrom EnvVarSource
        EnvVarSource: 1 fieldRef ObjectFieldSelector; 3 configMapKeyRef ConfigMapKeySelector; 4 secretKeyRef SecretKeySelector
        ConfigMapKeySelector: 1 localObjectReference LocalObjectReference inline; 2 key string; 3 optional bool pointer
        SecretKeySelector: 1 localObjectReference LocalObjectReference inline; 2 key string; 3 optional bool pointer
        ObjectFieldSelector: 1 apiVersion string; 2 fieldPath string
        ResourceRequirements: 1 limits map<string,Quantity>; 2 requests map<string,Quantity>
        VolumeMount: 1 name string; 2 readOnly bool; 7 recursiveReadOnly string pointer; 3 mountPath string; 4 subPath string; 5 mountPropagation string pointer; 6 subPathExpr string
        Volume: 1 name string; 2 volumeSource VolumeSource inline
        VolumeSource: 1 hostPath HostPathVolumeSource; 2 emptyDir EmptyDirVolumeSource; 6 secret SecretVolumeSource; 19 configMap ConfigMapVolumeSource
        EmptyDirVolumeSource: 1 medium string; 2 sizeLimit Quantity
        ConfigMapVolumeSource: 1 localObjectReference LocalObjectReference inline; 2 items KeyToPath repeated; 3 defaultMode int32 pointer; 4 optional bool pointer
        SecretVolumeSource: 1 secretName string; 2 items KeyToPath repeated; 3 defaultMode int32 pointer; 4 optional bool pointer
        HostPathVolumeSource: 1 path string; 2 type string pointer
        KeyToPath: 1 key string; 2 path string; 3 mode int32 pointer
        Probe: 1 handler ProbeHandler inline; 2 initialDelaySeconds int32; 3 timeoutSeconds int32; 4 periodSeconds int32; 5 successThreshold int32; 6 failureThreshold int32; 7 terminationGracePeriodSeconds int64 pointer
        ProbeHandler: 1 exec ExecAction; 2 httpGet HTTPGetAction; 3 tcpSocket TCPSocketAction
        ExecAction: 1 command string repeated
        HTTPGetAction: 1 path string; 2 port IntOrString; 3 host string; 4 scheme string; 5 httpHeaders HTTPHeader repeated
        HTTPHeader: 1 name string; 2 value string
        TCPSocketAction: 1 port IntOrString; 2 host string
        Deployment: 1 metadata ObjectMeta; 2 spec DeploymentSpec; 3 status Ignored
        DeploymentSpec: 1 replicas int32 pointer; 2 selector LabelSelector; 3 template PodTemplateSpec; 4 strategy DeploymentStrategy; 5 minReadySeconds int32; 6 revisionHistoryLimit int32 pointer; 7 paused bool; 9 progressDeadlineSeconds int32 pointer
        DeploymentStrategy: 1 type string; 2 rollingUpdate RollingUpdateDeployment
        RollingUpdateDeployment: 1 maxUnavailable IntOrString; 2 maxSurge IntOrString
        Job: 1 metadata ObjectMeta; 2 spec JobSpec; 3 status Ignored
        ResourceQuota: 1 metadata ObjectMeta; 2 spec ResourceQuotaSpec; 3 status Ignored
        ResourceQuotaSpec: 1 hard map<string,Quantity>; 2 scopes string repeated; 3 scopeSelector ScopeSelector
        ScopeSelector: 1 matchExpressions ScopedResourceSelectorRequirement repeated
        ScopedResourceSelectorRequirement: 1 scopeName string; 2 operator string; 3 values string repeated
        LimitRange: 1 metadata ObjectMeta; 2 spec LimitRangeSpec
        LimitRangeSpec: 1 limits LimitRangeItem repeated
        LimitRangeItem: 1 type string; 2 max map<string,Quantity>; 3 min map<string,Quantity>; 4 default map<string,Quantity>; 5 defaultRequest map<string,Quantity>; 6 maxLimitRequestRatio map<string,Quantity>
        Role: 1 metadata ObjectMeta; 2 rules PolicyRule repeated
        ClusterRole: 1 metadata ObjectMeta; 2 rules PolicyRule repeated; 3 aggregationRule AggregationRule
        PolicyRule: 1 verbs string repeated; 2 apiGroups string repeated; 3 resources string repeated; 4 resourceNames string repeated; 5 nonResourceURLs string repeated
        AggregationRule: 1 clusterRoleSelectors LabelSelector repeated
        RoleBinding: 1 metadata ObjectMeta; 2 subjects Subject repeated; 3 roleRef RoleRef
        ClusterRoleBinding: 1 metadata ObjectMeta; 2 subjects Subject repeated; 3 roleRef RoleRef
        Subject: 1 kind string; 2 apiGroup string; 3 name string; 4 namespace string
        RoleRef: 1 apiGroup string; 2 kind string; 3 name string
        SelfSubjectAccessReview: 1 metadata ObjectMeta; 2 spec SelfSubjectAccessReviewSpec; 3 status Ignored
        SelfSubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes
        ResourceAttributes: 1 namespace string; 2 verb string; 3 group string; 4 version string; 5 resource string; 6 subresource string; 7 name string; 8 fieldSelector Ignored; 9 labelSelector Ignored
        NonResourceAttributes: 1 path string; 2 verb string
        SubjectAccessReview: 1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status Ignored
        LocalSubjectAccessReview: 1 metadata ObjectMeta; 2 spec SubjectAccessReviewSpec; 3 status Ignored
        SubjectAccessReviewSpec: 1 resourceAttributes ResourceAttributes; 2 nonResourceAttributes NonResourceAttributes; 3 user string; 4 groups string repeated; 5 extra Ignored; 6 uid string
        SelfSubjectRulesReview: 1 metadata ObjectMeta; 2 spec SelfSubjectRulesReviewSpec; 3 status Ignored
        SelfSubjectRulesReviewSpec: 1 namespace string
        SelfSubjectReview: 1 metadata ObjectMeta; 2 status Ignored
        TokenReview: 1 metadata ObjectMeta; 2 spec TokenReviewSpec; 3 status Ignored
        TokenReviewSpec: 1 token string; 2 audiences string repeated
        TokenRequest: 1 metadata ObjectMeta; 2 spec TokenRequestSpec; 3 status Ignored
        TokenRequestSpec: 1 audiences string repeated; 4 expirationSeconds int64 pointer; 3 boundObjectRef BoundObjectReference
        BoundObjectReference: 1 kind string; 2 apiVersion string; 3 name string; 4 uid string
        JobSpec: 1 parallelism int32 pointer; 2 completions int32 pointer; 3 activeDeadlineSeconds int64 pointer; 7 backoffLimit int32 pointer; 12 backoffLimitPerIndex int32 pointer; 13 maxFailedIndexes int32 pointer; 4 selector LabelSelector; 5 manualSelector bool pointer; 6 template PodTemplateSpec; 8 ttlSecondsAfterFinished int32 pointer; 9 completionMode string pointer; 10 suspend bool pointer; 14 podReplacementPolicy string pointer; 15 managedBy string pointer
        """;

    private static readonly (string Group, string Kind)[] TopLevel =
    [
        ("", "Namespace"), ("", "ConfigMap"), ("", "Secret"), ("", "ServiceAccount"), ("", "Service"), ("", "Pod"), ("apps", "Deployment"), ("batch", "Job"),
        ("", "ResourceQuota"), ("", "LimitRange"),
        ("rbac.authorization.k8s.io", "Role"), ("rbac.authorization.k8s.io", "ClusterRole"), ("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
        ("authorization.k8s.io", "SelfSubjectAccessReview"), ("authorization.k8s.io", "SubjectAccessReview"), ("authorization.k8s.io", "LocalSubjectAccessReview"), ("authorization.k8s.io", "SelfSubjectRulesReview"),
        ("authentication.k8s.io", "SelfSubjectReview"), ("authentication.k8s.io", "TokenRequest"), ("authentication.k8s.io", "TokenReview"),
    ];

    /// <summary>The type of a field that is known but skipped unread.</summary>
    public const string Ignored = "Ignored";

    private readonly FrozenDictionary<string, ProtobufMessage> _messages;

    private ProtobufSchema(FrozenDictionary<string, ProtobufMessage> messages) => _messages = messages;

    /// <summary>The table of this server's messages.</summary>
    public static ProtobufSchema Default { get; } = Parse(Table);

    /// <summary>The message of a top-level kind, or null when this server does not read that kind in protobuf.</summary>
    public ProtobufMessage? MessageForKind(string group, string kind) =>
        TopLevel.Contains((group, kind)) ? Message(kind) : null;

    /// <summary>A message by name, or null.</summary>
    public ProtobufMessage? Message(string name) => _messages.GetValueOrDefault(name);

    private static ProtobufSchema Parse(string table)
    {
        var messages = new Dictionary<string, ProtobufMessage>(StringComparer.Ordinal);
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            var fields = new Dictionary<int, ProtobufField>();
            foreach (var spec in line[(colon + 1)..].Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                var parts = spec.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var number = int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
                fields[number] = new ProtobufField(number, parts[1], parts[2], parts.Contains("repeated"), parts.Contains("inline"), parts.Contains("pointer"));
            }

            messages[name] = new ProtobufMessage(name, fields);
        }

        return new ProtobufSchema(messages.ToFrozenDictionary(StringComparer.Ordinal));
    }
}
