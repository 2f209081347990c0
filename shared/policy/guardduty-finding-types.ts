/**
 * The GuardDuty finding types a runtime rule can meet on ECS: the Runtime Monitoring finding types and the ECS attack
 * sequence. Source: "GuardDuty Runtime Monitoring finding types",
 * https://docs.aws.amazon.com/guardduty/latest/ug/findings-runtime-monitoring.html (the page's table of contents),
 * the newest six from a third-party list that otherwise matched that page, and
 * https://docs.aws.amazon.com/guardduty/latest/ug/guardduty-attack-sequence-finding-types.html for the attack sequence
 * (as collected in reference/aws-facts.md). Used only to check a policy's type patterns (a case typo such as
 * `Execution:Runtime/Reverseshell` would silently match nothing), never to filter findings: a type GuardDuty adds later
 * still reaches the rules. Add it here when a rule needs to name it.
 */
export const GUARDDUTY_ECS_FINDING_TYPES: readonly string[] = [
  'CryptoCurrency:Runtime/BitcoinTool.B',
  'Backdoor:Runtime/C&CActivity.B',
  'UnauthorizedAccess:Runtime/TorRelay',
  'UnauthorizedAccess:Runtime/TorClient',
  'Trojan:Runtime/BlackholeTraffic',
  'Trojan:Runtime/DropPoint',
  'CryptoCurrency:Runtime/BitcoinTool.B!DNS',
  'Backdoor:Runtime/C&CActivity.B!DNS',
  'Trojan:Runtime/BlackholeTraffic!DNS',
  'Trojan:Runtime/DropPoint!DNS',
  'Trojan:Runtime/DGADomainRequest.C!DNS',
  'Trojan:Runtime/DriveBySourceTraffic!DNS',
  'Trojan:Runtime/PhishingDomainRequest!DNS',
  'Impact:Runtime/AbusedDomainRequest.Reputation',
  'Impact:Runtime/BitcoinDomainRequest.Reputation',
  'Impact:Runtime/MaliciousDomainRequest.Reputation',
  'Impact:Runtime/SuspiciousDomainRequest.Reputation',
  'UnauthorizedAccess:Runtime/MetadataDNSRebind',
  'Execution:Runtime/NewBinaryExecuted',
  'PrivilegeEscalation:Runtime/DockerSocketAccessed',
  'PrivilegeEscalation:Runtime/RuncContainerEscape',
  'PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified',
  'DefenseEvasion:Runtime/ProcessInjection.Proc',
  'DefenseEvasion:Runtime/ProcessInjection.Ptrace',
  'DefenseEvasion:Runtime/ProcessInjection.VirtualMemoryWrite',
  'Execution:Runtime/ReverseShell',
  'DefenseEvasion:Runtime/FilelessExecution',
  'Impact:Runtime/CryptoMinerExecuted',
  'Execution:Runtime/NewLibraryLoaded',
  'PrivilegeEscalation:Runtime/ContainerMountsHostDirectory',
  'PrivilegeEscalation:Runtime/UserfaultfdUsage',
  'Execution:Runtime/SuspiciousTool',
  'Execution:Runtime/SuspiciousCommand',
  'DefenseEvasion:Runtime/SuspiciousCommand',
  'DefenseEvasion:Runtime/PtraceAntiDebugging',
  'Execution:Runtime/MaliciousFileExecuted',
  // Newer types (third-party list, see above).
  'DefenseEvasion:Runtime/KernelModuleLoaded',
  'Discovery:Runtime/SuspiciousCommand',
  'Execution:Runtime/SuspiciousShellCreated',
  'Persistence:Runtime/SuspiciousCommand',
  'PrivilegeEscalation:Runtime/ElevationToRoot',
  'PrivilegeEscalation:Runtime/SuspiciousCommand',
  // Attack sequence (Critical).
  'AttackSequence:ECS/CompromisedCluster',
];
