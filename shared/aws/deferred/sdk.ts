// What no first round trip needs: S3 (evidence uploads), SNS (notify), ECR (quarantine-image), STS and Organizations
// (member accounts), Secrets Manager (Slack), and the handlers' logger and metrics, used once the response is done.
// A deferred module: see ./index.ts.
export { BatchDeleteImageCommand, BatchGetImageCommand, DescribeImagesCommand, ECRClient, PutImageCommand, UpdateImageStorageClassCommand } from '@aws-sdk/client-ecr';
export { DescribeAccountCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
export { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
export { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
export { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
export { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
export { Logger } from '@aws-lambda-powertools/logger';
export { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
