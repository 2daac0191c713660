"""Seeds and changes a moto server for tests/tests/discovery.rs, and describes what is there.

    moto_seed.py ENDPOINT seed ACCOUNTS REGIONS DENIED   -> JSON of the estate, as boto3 reads it back
    moto_seed.py ENDPOINT terminate|stop ACCOUNT REGION INSTANCE_ID
    moto_seed.py ENDPOINT delete-image ACCOUNT REGION REPOSITORY DIGEST
    moto_seed.py ENDPOINT ecr-login REGION          -> {"username", "password"} ECR hands out
    moto_seed.py ENDPOINT artifacts REGION MANIFEST MEDIA_TYPE DIGEST ZIP -> {"image", "function"}

`seed` builds an organization (management account 123456789012, ACCOUNTS members, one in an
OU, tagged), then in every member and region: a running instance, a stopped one and one tagged
ArgusExclude=true; in the first member, an ECR repository with two image manifests and a Lambda
function with a layer. The discovery user `argus` may do anything except assume the role of the
last DENIED members. Then moto's IAM enforcement is switched on, so from here on every request
(discovery's and this script's) is authenticated and authorized like AWS would.
"""

import base64
import hashlib
import io
import json
import os
import sys
import urllib.request
import zipfile

import boto3

MANAGEMENT = "123456789012"
ROLE = "OrganizationAccountAccessRole"


def client(service, endpoint, region, creds=None):
    creds = creds or {"aws_access_key_id": "seed", "aws_secret_access_key": "seed"}
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **creds)


def user_creds():
    return {
        "aws_access_key_id": os.environ["ARGUS_TEST_KEY_ID"],
        "aws_secret_access_key": os.environ["ARGUS_TEST_SECRET"],
    }


def member_creds(endpoint, account, creds):
    c = client("sts", endpoint, "us-east-1", creds).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{ROLE}", RoleSessionName="seed"
    )["Credentials"]
    return {
        "aws_access_key_id": c["AccessKeyId"],
        "aws_secret_access_key": c["SecretAccessKey"],
        "aws_session_token": c["SessionToken"],
    }


def zip_of(name, text):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, text)
    return buf.getvalue()


def manifest(n):
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": n}).encode()
    layer = f"layer {n}".encode()
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                }
            ],
        }
    )


def network(ec2, vpc, subnet, web, instance):
    """An internet-facing subnet: gateway, default route, an ACL rule, SSH open to the world on
    `web`, PostgreSQL open to the VPC only on another group, an Elastic IP on `instance`."""
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=subnet)
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(
        NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow", Egress=False,
        CidrBlock="0.0.0.0/0", PortRange={"From": 22, "To": 22},
    )
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    db = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=db,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.0.0/16"}]}],
    )
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=eip, InstanceId=instance)


def describe_network(ec2):
    """The region's network as boto3 lists it, reduced to ids and the facts the test checks."""
    return {
        "vpcs": sorted(v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]),
        "subnets": sorted(n["SubnetId"] for n in ec2.describe_subnets()["Subnets"]),
        "route_tables": [
            {
                "id": t["RouteTableId"],
                "subnets": sorted(a["SubnetId"] for a in t.get("Associations", []) if "SubnetId" in a),
                "routes": sorted(
                    [r["DestinationCidrBlock"], r.get("GatewayId", "")]
                    for r in t.get("Routes", [])
                    if "DestinationCidrBlock" in r
                ),
            }
            for t in ec2.describe_route_tables()["RouteTables"]
        ],
        "internet_gateways": [
            {"id": g["InternetGatewayId"], "vpcs": sorted(a["VpcId"] for a in g.get("Attachments", []))}
            for g in ec2.describe_internet_gateways()["InternetGateways"]
        ],
        "network_acls": sorted(a["NetworkAclId"] for a in ec2.describe_network_acls()["NetworkAcls"]),
        "security_groups": [
            {
                "id": g["GroupId"],
                "name": g["GroupName"],
                "ingress": sorted(
                    [p["IpProtocol"], p.get("FromPort", -1), p.get("ToPort", -1), sorted(r["CidrIp"] for r in p.get("IpRanges", []))]
                    for p in g.get("IpPermissions", [])
                ),
            }
            for g in ec2.describe_security_groups()["SecurityGroups"]
        ],
        "public_ips": {
            i["InstanceId"]: i.get("PublicIpAddress", "")
            for r in ec2.describe_instances()["Reservations"]
            for i in r["Instances"]
        },
    }


def seed(endpoint, n_accounts, regions, denied):
    org = client("organizations", endpoint, "us-east-1")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    ou = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    prod = org.create_organizational_unit(ParentId=ou, Name="Prod")["OrganizationalUnit"]["Id"]
    members = []
    for i in range(n_accounts):
        st = org.create_account(AccountName=f"member-{i}", Email=f"m{i}@example.com")["CreateAccountStatus"]
        members.append(st["AccountId"])
    org.move_account(AccountId=members[0], SourceParentId=root, DestinationParentId=prod)
    org.tag_resource(ResourceId=members[0], Tags=[{"Key": "team", "Value": "payments"}])
    denied_ids = members[len(members) - denied :] if denied else []

    iam = client("iam", endpoint, "us-east-1")
    iam.create_user(UserName="argus")
    key = iam.create_access_key(UserName="argus")["AccessKey"]
    statements = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
    for d in denied_ids:
        statements.append({"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{d}:role/*"})
    iam.put_user_policy(
        UserName="argus",
        PolicyName="discovery",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    seeder = client("sts", endpoint, "us-east-1")

    for index, account in enumerate(members):
        c = member_creds(endpoint, account, None)
        # moto creates the role with the organization; give it permissions for once IAM is
        # enforced.
        client("iam", endpoint, "us-east-1", c).put_role_policy(
            RoleName=ROLE,
            PolicyName="all",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        for region in regions:
            ec2 = client("ec2", endpoint, region, c)
            ami = ec2.describe_images()["Images"][0]["ImageId"]
            vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
            sg = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
            ids = []
            for name, tags in [("running", []), ("stopped", []), ("excluded", [{"Key": "ArgusExclude", "Value": "true"}])]:
                r = ec2.run_instances(
                    ImageId=ami,
                    MinCount=1,
                    MaxCount=1,
                    InstanceType="t3.micro",
                    SubnetId=subnet,
                    SecurityGroupIds=[sg],
                    TagSpecifications=[
                        {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}] + tags}
                    ],
                )
                ids.append(r["Instances"][0]["InstanceId"])
            ec2.stop_instances(InstanceIds=[ids[1]])
            if index == 0 and region == regions[0]:
                network(ec2, vpc, subnet, sg, ids[0])
        if index == 0:
            region = regions[0]
            ecr = client("ecr", endpoint, region, c)
            ecr.create_repository(repositoryName="shop/web", tags=[{"Key": "team", "Value": "web"}])
            for n, tag in [(1, "v1"), (2, "v2")]:
                ecr.put_image(repositoryName="shop/web", imageManifest=manifest(n), imageTag=tag)
            lam = client("lambda", endpoint, region, c)
            layer = lam.publish_layer_version(
                LayerName="deps", Content={"ZipFile": zip_of("python/deps.py", "X = 1\n")}
            )["LayerVersionArn"]
            lam.create_function(
                FunctionName="checkout",
                Runtime="python3.12",
                Role=f"arn:aws:iam::{account}:role/{ROLE}",
                Handler="app.handler",
                Code={"ZipFile": zip_of("app.py", "def handler(e, c):\n    return 1\n")},
                Layers=[layer],
                Architectures=["arm64"],
                Tags={"team": "checkout"},
            )

    req = urllib.request.Request(
        endpoint + "/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
    )
    urllib.request.urlopen(req).read()
    os.environ["ARGUS_TEST_KEY_ID"] = key["AccessKeyId"]
    os.environ["ARGUS_TEST_SECRET"] = key["SecretAccessKey"]
    return describe(endpoint, members, denied_ids, regions, key)


def describe(endpoint, members, denied_ids, regions, key):
    """What the estate holds, read back with boto3 under the discovery user's rights."""
    creds = user_creds()
    org = client("organizations", endpoint, "us-east-1", creds)
    accounts = []
    for a in org.list_accounts()["Accounts"]:
        tags = {t["Key"]: t["Value"] for t in org.list_tags_for_resource(ResourceId=a["Id"])["Tags"]}
        accounts.append({"id": a["Id"], "name": a["Name"], "tags": tags, "denied": a["Id"] in denied_ids})
    out = {
        "key_id": key["AccessKeyId"],
        "secret": key["SecretAccessKey"],
        "management": MANAGEMENT,
        "accounts": accounts,
        "instances": [],
        "images": [],
        "functions": [],
    }
    for account in members:
        if account in denied_ids:
            continue
        c = member_creds(endpoint, account, creds)
        for region in regions:
            ec2 = client("ec2", endpoint, region, c)
            if account == members[0] and region == regions[0]:
                out["network"] = {"account": account, "region": region, **describe_network(ec2)}
            for res in ec2.describe_instances()["Reservations"]:
                for i in res["Instances"]:
                    out["instances"].append(
                        {
                            "account": account,
                            "region": region,
                            "id": i["InstanceId"],
                            "state": i["State"]["Name"],
                            "ami": i["ImageId"],
                            "type": i["InstanceType"],
                            "vpc": i.get("VpcId", ""),
                            "subnet": i.get("SubnetId", ""),
                            "private_ip": i.get("PrivateIpAddress", ""),
                            "public_ip": i.get("PublicIpAddress", ""),
                            "groups": sorted(g["GroupId"] for g in i.get("SecurityGroups", [])),
                            "tags": {t["Key"]: t["Value"] for t in i.get("Tags", [])},
                            "launched": int(i["LaunchTime"].timestamp()),
                        }
                    )
            ecr = client("ecr", endpoint, region, c)
            for repo in ecr.describe_repositories()["repositories"]:
                tags = {
                    t["Key"]: t["Value"]
                    for t in ecr.list_tags_for_resource(resourceArn=repo["repositoryArn"])["tags"]
                }
                for img in ecr.describe_images(repositoryName=repo["repositoryName"])["imageDetails"]:
                    out["images"].append(
                        {
                            "account": account,
                            "region": region,
                            "repository": repo["repositoryName"],
                            "uri": repo["repositoryUri"],
                            "digest": img["imageDigest"],
                            "tags": sorted(img.get("imageTags", [])),
                            "media_type": img.get("imageManifestMediaType", ""),
                            "repository_tags": tags,
                        }
                    )
            lam = client("lambda", endpoint, region, c)
            for f in lam.list_functions()["Functions"]:
                out["functions"].append(
                    {
                        "account": account,
                        "region": region,
                        "arn": f["FunctionArn"],
                        "name": f["FunctionName"],
                        "runtime": f.get("Runtime", ""),
                        "code_sha256": f["CodeSha256"],
                        "role": f["Role"],
                        "package_type": f.get("PackageType", ""),
                        "architectures": f.get("Architectures", []),
                        "layers": [l["Arn"] for l in f.get("Layers", [])],
                        "tags": lam.list_tags(Resource=f["FunctionArn"]).get("Tags", {}),
                    }
                )
    return out


def ecr_login(endpoint, region):
    token = client("ecr", endpoint, region).get_authorization_token()["authorizationData"][0]
    username, password = base64.b64decode(token["authorizationToken"]).decode().split(":", 1)
    return {"username": username, "password": password}


def artifacts(endpoint, region, manifest_path, media_type, digest, zip_path):
    """In the management account, without an organization or IAM enforcement: an ECR image
    whose manifest is the one pushed to the test's registry, and a Lambda function whose package
    lies in S3 where moto's GetFunction URL points. Real AWS presigns that URL; moto's carries no
    signature, so the object is public-read."""
    ecr = client("ecr", endpoint, region)
    repo = ecr.create_repository(repositoryName="shop/api")["repository"]
    with open(manifest_path) as f:
        manifest = f.read()
    ecr.put_image(
        repositoryName="shop/api", imageManifest=manifest, imageManifestMediaType=media_type,
        imageTag="1", imageDigest=digest,
    )
    bucket = f"awslambda-{region}-tasks"
    s3 = client("s3", endpoint, region)
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    with open(zip_path, "rb") as f:
        s3.put_object(Bucket=bucket, Key="checkout.zip", Body=f.read(), ACL="public-read")
    role = client("iam", endpoint, region).create_role(
        RoleName="checkout", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    function = client("lambda", endpoint, region).create_function(
        FunctionName="checkout", Runtime="python3.12", Role=role, Handler="app.handler",
        Code={"S3Bucket": bucket, "S3Key": "checkout.zip"},
    )
    return {
        "image": f"arn:aws:ecr:{region}:{MANAGEMENT}:repository/shop/api/{digest}",
        "image_uri": repo["repositoryUri"],
        "function": function["FunctionArn"],
        "account": MANAGEMENT,
    }


def main():
    endpoint, command, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "ecr-login":
        print(json.dumps(ecr_login(endpoint, args[0])))
        return
    if command == "artifacts":
        print(json.dumps(artifacts(endpoint, *args)))
        return
    if command == "seed":
        print(json.dumps(seed(endpoint, int(args[0]), args[1].split(","), int(args[2]))))
        return
    account, region = args[0], args[1]
    c = member_creds(endpoint, account, user_creds())
    if command == "terminate":
        client("ec2", endpoint, region, c).terminate_instances(InstanceIds=[args[2]])
    elif command == "stop":
        client("ec2", endpoint, region, c).stop_instances(InstanceIds=[args[2]])
    elif command == "revoke-ssh":
        ec2 = client("ec2", endpoint, region, c)
        for g in ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]:
            ec2.revoke_security_group_ingress(
                GroupId=g["GroupId"],
                IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
            )
    elif command == "delete-image":
        client("ecr", endpoint, region, c).batch_delete_image(
            repositoryName=args[2], imageIds=[{"imageDigest": args[3]}]
        )
    else:
        raise SystemExit(f"unknown command {command}")
    print("{}")


if __name__ == "__main__":
    main()
