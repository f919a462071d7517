//! The initial schema: users, tags, their link, connections, connection requests, access
//! tokens and the community settings row.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CommunitySettings {
    Table,
    Id,
    ConnectionEnabled,
    FollowEnabled,
    ContentAvailability,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    RealName,
    Avatar,
    ExtId,
    FollowingsCounter,
    FollowersCounter,
    PostsCounter,
    DiscussionsCounter,
    PollsCounter,
    CategoriesCounter,
    DateJoinedUs,
    Bio,
    Location,
    LocationLatLng,
    PositionLatLng,
    DateOfBirth,
    Description,
    Gender,
    Website,
    Cover,
    Reputation,
    CommunityBadge,
    RegApproved,
    Deleted,
    CompanyName,
    CompanyRole,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Type,
    Name,
    Description,
    Color,
    Visible,
    VisibilityBoost,
    Active,
    Deleted,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum UserTags {
    Table,
    UserId,
    TagId,
}

#[derive(DeriveIden)]
enum Connections {
    Table,
    UserId,
    FriendId,
    ConnectedAtUs,
}

#[derive(DeriveIden)]
enum ConnectionRequests {
    Table,
    FromUserId,
    ToUserId,
    CreatedAtUs,
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    TokenSha256,
    UserId,
    ExpiresAtUs,
}

fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn flag(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).boolean().not_null().to_owned()
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn short(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

fn nullable_short(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

/// A foreign key to `users.id` that removes the dependent row with the user.
fn user_fk(
    from_table: impl IntoIden + 'static,
    from_col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DatabaseBackend::MySql;

        manager
            .create_table(
                Table::create()
                    .table(CommunitySettings::Table)
                    .col(
                        ColumnDef::new(CommunitySettings::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(flag(CommunitySettings::ConnectionEnabled))
                    .col(flag(CommunitySettings::FollowEnabled))
                    .col(flag(CommunitySettings::ContentAvailability))
                    .to_owned(),
            )
            .await?;
        // The one settings row, with the spec's defaults.
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(CommunitySettings::Table)
                    .columns([
                        CommunitySettings::Id,
                        CommunitySettings::ConnectionEnabled,
                        CommunitySettings::FollowEnabled,
                        CommunitySettings::ContentAvailability,
                    ])
                    .values_panic([1.into(), true.into(), false.into(), true.into()])
                    .to_owned(),
            )
            .await?;

        // Usernames are compared byte for byte, as the import validates them; MySQL's default
        // collation would otherwise call "Alice" and "alice" duplicates.
        let mut username = short(Users::Username, 150);
        if mysql {
            username.extra("COLLATE utf8mb4_bin");
        }
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(big(Users::Id).primary_key())
                    .col(username.unique_key())
                    .col(short(Users::RealName, 255))
                    .col(nullable_short(Users::Avatar, 2048))
                    .col(ColumnDef::new(Users::ExtId).big_integer().null())
                    .col(big(Users::FollowingsCounter))
                    .col(big(Users::FollowersCounter))
                    .col(big(Users::PostsCounter))
                    .col(big(Users::DiscussionsCounter))
                    .col(big(Users::PollsCounter))
                    .col(big(Users::CategoriesCounter))
                    .col(big(Users::DateJoinedUs))
                    .col(text(Users::Bio))
                    .col(short(Users::Location, 255))
                    .col(nullable_short(Users::LocationLatLng, 64))
                    .col(nullable_short(Users::PositionLatLng, 64))
                    .col(nullable_short(Users::DateOfBirth, 10))
                    .col(text(Users::Description))
                    .col(short(Users::Gender, 16))
                    .col(short(Users::Website, 2048))
                    .col(nullable_short(Users::Cover, 2048))
                    .col(big(Users::Reputation))
                    .col(flag(Users::CommunityBadge))
                    .col(flag(Users::RegApproved))
                    .col(flag(Users::Deleted))
                    .col(short(Users::CompanyName, 255))
                    .col(short(Users::CompanyRole, 255))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(big(Tags::Id).primary_key())
                    .col(short(Tags::Type, 64))
                    .col(short(Tags::Name, 255))
                    .col(text(Tags::Description))
                    .col(short(Tags::Color, 32))
                    .col(flag(Tags::Visible))
                    .col(flag(Tags::VisibilityBoost))
                    .col(flag(Tags::Active))
                    .col(flag(Tags::Deleted))
                    .col(big(Tags::CreatedAtUs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTags::Table)
                    .col(big(UserTags::UserId))
                    .col(big(UserTags::TagId))
                    .primary_key(Index::create().col(UserTags::UserId).col(UserTags::TagId))
                    .foreign_key(&mut user_fk(UserTags::Table, UserTags::UserId))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserTags::Table, UserTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        // One row per side of a friendship: (a, b) and (b, a), with the same instant.
        manager
            .create_table(
                Table::create()
                    .table(Connections::Table)
                    .col(big(Connections::UserId))
                    .col(big(Connections::FriendId))
                    .col(big(Connections::ConnectedAtUs))
                    .primary_key(
                        Index::create()
                            .col(Connections::UserId)
                            .col(Connections::FriendId),
                    )
                    .foreign_key(&mut user_fk(Connections::Table, Connections::UserId))
                    .foreign_key(&mut user_fk(Connections::Table, Connections::FriendId))
                    .check(Expr::col(Connections::UserId).ne(Expr::col(Connections::FriendId)))
                    .to_owned(),
            )
            .await?;
        // The API's order within a user's list: newest first, then friend id.
        manager
            .create_index(
                Index::create()
                    .name("ix_connections_order")
                    .table(Connections::Table)
                    .col(Connections::UserId)
                    .col((Connections::ConnectedAtUs, IndexOrder::Desc))
                    .col(Connections::FriendId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConnectionRequests::Table)
                    .col(big(ConnectionRequests::FromUserId))
                    .col(big(ConnectionRequests::ToUserId))
                    .col(big(ConnectionRequests::CreatedAtUs))
                    .primary_key(
                        Index::create()
                            .col(ConnectionRequests::FromUserId)
                            .col(ConnectionRequests::ToUserId),
                    )
                    .foreign_key(&mut user_fk(
                        ConnectionRequests::Table,
                        ConnectionRequests::FromUserId,
                    ))
                    .foreign_key(&mut user_fk(
                        ConnectionRequests::Table,
                        ConnectionRequests::ToUserId,
                    ))
                    .check(
                        Expr::col(ConnectionRequests::FromUserId)
                            .ne(Expr::col(ConnectionRequests::ToUserId)),
                    )
                    .to_owned(),
            )
            .await?;
        // Requests received by a viewer, for `received_connection_request`.
        manager
            .create_index(
                Index::create()
                    .name("ix_connection_requests_to")
                    .table(ConnectionRequests::Table)
                    .col(ConnectionRequests::ToUserId)
                    .col(ConnectionRequests::FromUserId)
                    .to_owned(),
            )
            .await?;

        // Only the SHA-256 of a token is kept, so a dump of this table reveals no token.
        manager
            .create_table(
                Table::create()
                    .table(AccessTokens::Table)
                    .col(short(AccessTokens::TokenSha256, 64).primary_key())
                    .col(big(AccessTokens::UserId))
                    .col(big(AccessTokens::ExpiresAtUs))
                    .foreign_key(&mut user_fk(AccessTokens::Table, AccessTokens::UserId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_access_tokens_user")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::UserId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AccessTokens::Table.into_iden(),
            ConnectionRequests::Table.into_iden(),
            Connections::Table.into_iden(),
            UserTags::Table.into_iden(),
            Tags::Table.into_iden(),
            Users::Table.into_iden(),
            CommunitySettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
